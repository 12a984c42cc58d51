"""Feishu and DingTalk signatures: test vectors computed independently of the code under test.

The two schemes are mirror images (key and message swapped, seconds against
milliseconds, body against query string), and notifiers that reused one for
the other never got a message through. Each vector is computed here from the
platform's description, and once more by ``openssl`` (the literals), and the
other platform's scheme on the same inputs must not match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, quote_plus, urlsplit

import orjson
import pytest

from alerts.receivers.dingtalk import (
    DingTalk,
    DingTalkReceiver,
    DingTalkSigner,
    dingtalk_sign,
)
from alerts.receivers.feishu import Feishu, FeishuReceiver, FeishuSigner, feishu_sign
from alerts.receivers.settings import ReceiverConfigError, Secret
from tests.alert_events import event

FEISHU_SECRET = "fs-test-SECRET-a1b2"
DINGTALK_SECRET = "SECtest0123456789abcdef"
TS = 1764000000
TS_MS = 1764000000123
# printf '' | openssl dgst -sha256 -binary \
#   -hmac "$(printf '1764000000\nfs-test-SECRET-a1b2')" | base64
FEISHU_OPENSSL = "70eqn6a81OEXubjb3E+FXmdt33EkIB9guBHnMl1gouw="
# printf '1764000000123\nSECtest0123456789abcdef' \
#   | openssl dgst -sha256 -binary -hmac SECtest0123456789abcdef | base64
DINGTALK_OPENSSL = "OURQx2KDv1honGVGDjPXskWPZiNXPMuJwSwsEtxy1cg="


def b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def test_feishu_signature_is_the_hmac_of_nothing_keyed_by_timestamp_and_secret() -> None:
    expected = b64_hmac(f"{TS}\n{FEISHU_SECRET}".encode(), b"")
    assert expected == FEISHU_OPENSSL
    assert feishu_sign(FEISHU_SECRET, TS) == expected
    dingtalk_scheme = b64_hmac(FEISHU_SECRET.encode(), f"{TS}\n{FEISHU_SECRET}".encode())
    assert feishu_sign(FEISHU_SECRET, TS) != dingtalk_scheme
    assert feishu_sign(FEISHU_SECRET, TS * 1000) != expected  # seconds, not milliseconds


def test_dingtalk_signature_is_the_urlencoded_hmac_of_timestamp_and_secret() -> None:
    expected = b64_hmac(DINGTALK_SECRET.encode(), f"{TS_MS}\n{DINGTALK_SECRET}".encode())
    assert expected == DINGTALK_OPENSSL
    assert dingtalk_sign(DINGTALK_SECRET, TS_MS) == quote_plus(expected)
    assert dingtalk_sign(DINGTALK_SECRET, TS_MS).endswith("%3D")  # url-encoded base64 padding
    feishu_scheme = b64_hmac(f"{TS_MS}\n{DINGTALK_SECRET}".encode(), b"")
    assert dingtalk_sign(DINGTALK_SECRET, TS_MS) != quote_plus(feishu_scheme)


def test_feishu_signer_puts_timestamp_in_seconds_and_sign_in_the_body() -> None:
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/abc"
    body = orjson.dumps({"msg_type": "interactive", "card": {"header": {}}})
    signed_url, signed = FeishuSigner(Secret(FEISHU_SECRET))(url, body, TS + 0.9)
    assert signed_url == url
    payload = orjson.loads(signed)
    assert payload["timestamp"] == str(TS)  # a string, whole seconds
    assert payload["sign"] == FEISHU_OPENSSL
    assert payload["msg_type"] == "interactive" and payload["card"] == {"header": {}}


def test_dingtalk_signer_puts_timestamp_in_milliseconds_and_sign_in_the_query() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=tok"
    body = b'{"msgtype":"markdown"}'
    signed_url, signed = DingTalkSigner(Secret(DINGTALK_SECRET))(url, body, TS_MS / 1000)
    assert signed == body
    query = parse_qs(urlsplit(signed_url).query)
    assert query["access_token"] == ["tok"]
    assert query["timestamp"] == [str(TS_MS)]
    assert query["sign"] == [DINGTALK_OPENSSL]  # parse_qs decodes the url-encoding


def test_signing_secrets_come_from_the_environment() -> None:
    config = DingTalkReceiver(type="dingtalk", url_env="DT_URL", secret_env="DT_SECRET")
    env = {"DT_URL": "https://oapi.dingtalk.com/robot/send?access_token=tok"}
    with pytest.raises(ReceiverConfigError, match="DT_SECRET is not set"):
        DingTalk.check("dt", config, env)
    with pytest.raises(ReceiverConfigError, match="not a DingTalk signing secret") as bad:
        DingTalk.check("dt", config, {**env, "DT_SECRET": "not-the-secret-0123"})
    assert "not-the-secret-0123" not in str(bad.value)
    DingTalk.check("dt", config, {**env, "DT_SECRET": DINGTALK_SECRET})


@pytest.mark.parametrize("kind", ["feishu", "dingtalk"])
def test_the_keyword_is_in_every_message(kind: str) -> None:
    """The platforms drop a message without the keyword: each part of a split group has it."""
    env = {"URL": "https://robot.example/hook/tok"}
    events = [event(vendor=f"供应商{i}" + "长" * 600) for i in range(40)]
    if kind == "feishu":
        feishu = Feishu.from_config(
            "f", FeishuReceiver(type="feishu", url_env="URL", keyword="告警通知"), env, ""
        )
        requests = feishu.requests(events, {})
        titles = [orjson.loads(r.body)["card"]["header"]["title"]["content"] for r in requests]
        texts = titles
    else:
        dingtalk = DingTalk.from_config(
            "d", DingTalkReceiver(type="dingtalk", url_env="URL", keyword="告警通知"), env, ""
        )
        requests = dingtalk.requests(events, {})
        bodies = [orjson.loads(r.body)["markdown"] for r in requests]
        titles = [b["title"] for b in bodies]
        texts = [b["text"] for b in bodies]
    assert len(requests) > 1  # split, so the keyword is checked on every part
    assert all("告警通知" in t for t in titles + texts)


@pytest.mark.parametrize("keyword", ["", "  ", "<at id=all>", "**x**", "# head", "k" * 65])
def test_a_keyword_that_markup_would_change_is_refused(keyword: str) -> None:
    config = FeishuReceiver(type="feishu", url_env="URL", keyword=keyword)
    with pytest.raises(ReceiverConfigError, match="keyword must be"):
        Feishu.check("f", config, None)
