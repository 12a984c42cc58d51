"""One small pure module per platform: its webhook -> contract events, and its signature check.

``CONNECTORS`` maps a source ``type`` of the connectors file to the function
that maps a delivery; ``VERIFIERS`` to the signature check of the platforms
that sign (Label Studio signs nothing: its sources authenticate with a
token). Every verifier takes the same arguments, whether or not its platform
puts a timestamp in the signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

# The submodules by their full names: the package does not import itself.
import gateway.connectors.argilla as argilla
import gateway.connectors.cvat as cvat
import gateway.connectors.label_studio as label_studio
import gateway.connectors.labelbox as labelbox
import gateway.connectors.toloka as toloka
from gateway.connectors.base import Connector
from gateway.connectors.signing import Verdict

Verifier = Callable[[bytes, bytes, Mapping[str, str], datetime, float], Verdict]

CONNECTORS: dict[str, Connector] = {
    "label_studio": label_studio.events,
    "cvat": cvat.events,
    "labelbox": labelbox.events,
    "argilla": argilla.events,
    "toloka": toloka.events,
}
TYPES = tuple(CONNECTORS)

VERIFIERS: dict[str, Verifier] = {
    "cvat": lambda key, body, headers, _now, _tolerance: cvat.verify(key, body, headers),
    "labelbox": lambda key, body, headers, _now, _tolerance: labelbox.verify(key, body, headers),
    "argilla": argilla.verify,
    "toloka": toloka.verify,
}
SIGNED = frozenset(VERIFIERS)


def secret_key(source_type: str, secret: str) -> bytes:
    """The HMAC key of a platform secret (a Standard Webhooks secret is base64: ValueError)."""
    if source_type == "argilla":
        return argilla.key(secret)
    return secret.encode()
