"""Sign a webhook body as each platform does, from the platforms' documents (not our code).

CVAT: ``X-Signature-256: sha256=<hex HMAC-SHA256>``; Labelbox: ``X-Hub-Signature:
sha1=<hex HMAC-SHA1>``; Argilla: Standard Webhooks (``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``, key = base64 of the ``whsec_`` secret); Toloka:
``{v=1, ts=<ms>, sign=<hex HMAC-SHA256 of "ts.v.body">}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

CVAT_SECRET = "cvat-webhook-secret-0123"
LABELBOX_SECRET = "labelbox-webhook-secret-0123"
ARGILLA_SECRET = "whsec_" + base64.b64encode(b"argilla webhook key 0123456789").decode()
TOLOKA_SECRET = "toloka-subscription-secret-0123"
LS_TOKEN = "label-studio-header-token-0123"

SECRETS_ENV = {
    "CVAT_SECRET": CVAT_SECRET,
    "LABELBOX_SECRET": LABELBOX_SECRET,
    "ARGILLA_SECRET": ARGILLA_SECRET,
    "TOLOKA_SECRET": TOLOKA_SECRET,
    "LS_TOKEN": LS_TOKEN,
}

CONNECTORS_YAML = """\
version: 1
sources:
  ls:
    type: label_studio
    token_env: LS_TOKEN
    map:
      queue_id: {path: task.data.queue}
  cvat:
    type: cvat
    secret_env: CVAT_SECRET
  labelbox:
    type: labelbox
    secret_env: LABELBOX_SECRET
  argilla:
    type: argilla
    secret_env: ARGILLA_SECRET
  toloka:
    type: toloka
    secret_env: TOLOKA_SECRET
    map:
      annotator_id: {path: user_id, default: toloka-crowd}
"""


def cvat(body: bytes, secret: str = CVAT_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}"}


def labelbox(
    body: bytes, secret: str = LABELBOX_SECRET, topic: str = "LABEL_CREATED"
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {"X-Hub-Signature": f"sha1={digest}", "X-Labelbox-Event": topic}


def argilla(body: bytes, secret: str = ARGILLA_SECRET, at: float | None = None) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = int(time.time() if at is None else at)
    message_id = "msg_" + hashlib.sha256(body).hexdigest()[:16]
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def toloka(body: bytes, secret: str = TOLOKA_SECRET, at: float | None = None) -> dict[str, str]:
    ts = int((time.time() if at is None else at) * 1000)
    mac = hmac.new(secret.encode(), f"{ts}.1.".encode() + body, hashlib.sha256).hexdigest()
    return {"Toloka-Signature": f"{{v=1, ts={ts}, sign={mac}}}"}


def label_studio(_body: bytes, token: str = LS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SIGNERS = {
    "ls": label_studio,
    "cvat": cvat,
    "labelbox": labelbox,
    "argilla": argilla,
    "toloka": toloka,
}
