"""The port: what a reply means by the HTTP convention, and every kind fits it."""

from __future__ import annotations

from typing import get_args

import pytest

from alerts.receivers.base import Outcome, http_outcome
from alerts.receivers.registry import KINDS, ReceiverConfig


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (429, Outcome.THROTTLED),
        (302, Outcome.REJECTED),  # redirects are not followed
        (400, Outcome.REJECTED),
        (401, Outcome.REJECTED),
        (404, Outcome.REJECTED),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
    ],
)
def test_http_outcome(status: int, outcome: Outcome) -> None:
    assert http_outcome(status) is outcome


def test_every_settings_model_is_registered_under_its_type() -> None:
    [union, _] = get_args(ReceiverConfig)
    types = {model.model_fields["type"].annotation: model for model in get_args(union)}
    assert sorted(get_args(t)[0] for t in types) == sorted(KINDS)
