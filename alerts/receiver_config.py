"""Receiver settings, checked before anything is sent: at the worker's start and by
``annotel rules check``.

One set of checks for both, so a rules file that passes the check is one the
worker starts on (given the same environment). Each kind checks its own
settings (``alerts.receivers``); this module looks the kind up by the entry's
``type``, builds receivers for the dispatcher and collects every problem for
the check. Secrets are read from the environment only by the kinds, into
``Secret`` holders; messages name receivers and variables, never a value. No
network client is imported: ``annotel rules check`` stays quick.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from alerts.receivers.base import Receiver
from alerts.receivers.registry import KINDS, ReceiverConfig
from alerts.receivers.settings import ReceiverConfigError

__all__ = ["ReceiverConfigError", "build", "env_variables", "receiver_problems"]


def build(
    name: str, config: ReceiverConfig, env: Mapping[str, str], external_url: str = ""
) -> Receiver:
    """The receiver for one ``receivers:`` entry; raises ``ReceiverConfigError``."""
    return KINDS[config.type].from_config(name, config, env, external_url)


def receiver_problems(
    receivers: Mapping[str, ReceiverConfig], env: Mapping[str, str] | None
) -> list[str]:
    """Why the worker would refuse to start on these receivers (empty: it would not).

    The same checks ``Dispatcher`` runs, each receiver on its own so every
    problem is listed; messages name receivers and variables, never a value.
    ``env`` None skips the checks of environment values (``ReceiverKind.check``).
    """
    problems: list[str] = []
    for name, config in receivers.items():
        try:
            KINDS[config.type].check(name, config, env)
        except ReceiverConfigError as exc:
            problems.append(str(exc))
    return problems


def env_variables(receivers: Mapping[str, BaseModel]) -> list[tuple[str, str, str]]:
    """``(variable, receiver, setting)`` for every ``*_env`` setting, in file order.

    Found by the setting's name, so a receiver kind added later is covered
    without a list to keep in step.
    """
    found: list[tuple[str, str, str]] = []
    for name, config in receivers.items():
        for setting in type(config).model_fields:
            value = getattr(config, setting)
            if setting.endswith("_env") and isinstance(value, str):
                found.append((value, name, setting))
    return found
