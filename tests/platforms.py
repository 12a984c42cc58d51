"""A fake Feishu, DingTalk, WeCom and Teams on 127.0.0.1 that checks what the platforms check.

Each platform's route verifies the signature it would verify (Feishu's in the
body, DingTalk's in the query string, with a timestamp within an hour), the
keyword, and the size limit, and answers as the platform does: 200 with a
result code in the body (Teams: 202), or what the test scripted (the
platform's rate-limit code in a 200 body, a 429 with ``Retry-After``, a 500,
a hang past the client's timeout). Every request is recorded with the time
of the test's clock. An error body echoes the request's token, as a careless
platform might: it must never reach a log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

FEISHU_LIMIT = 20_000
DINGTALK_LIMIT = 20_000
WECOM_LIMIT = 4096
TEAMS_LIMIT = 28_000
RETRY_AFTER_S = 7

# Per platform: its token in the URL, the path, and the query that carries the token.
PATHS = {
    "feishu": "/open-apis/bot/v2/hook/{token}",
    "dingtalk": "/robot/send",
    "wecom": "/cgi-bin/webhook/send",
    "msteams": "/workflows/{token}/triggers/manual/paths/invoke",
}


@dataclass(frozen=True)
class Hit:
    platform: str
    token: str
    query: dict[str, str]
    body: bytes
    at: float  # the test's clock when the request arrived
    answer: str  # the scripted answer, or what the checks answered
    status: int

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def delivered(self) -> bool:
        return self.answer == "ok"


@dataclass
class Robot:
    """One robot's settings on the platform side: what it checks."""

    secret: str | None = None
    keyword: str | None = None
    script: list[str] = field(default_factory=list)  # ok, throttle, 429, 500, hang, reject


def _feishu_sign(timestamp: str, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _dingtalk_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Platforms:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.robots: dict[tuple[str, str], Robot] = {}
        self.hits: list[Hit] = []
        self.port = 0

    def robot(self, platform: str, token: str, **settings: Any) -> str:
        """Registers a robot; returns its webhook URL (the secret a receiver reads)."""
        self.robots[(platform, token)] = Robot(**settings)
        base = f"http://127.0.0.1:{self.port}"
        if platform == "feishu":
            return base + PATHS["feishu"].format(token=token)
        if platform == "dingtalk":
            return f"{base}/robot/send?access_token={token}"
        if platform == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={token}"
        return base + PATHS["msteams"].format(token=token) + f"?api-version=1&sig={token}"

    def at(self, platform: str, token: str) -> list[Hit]:
        return [h for h in self.hits if h.platform == platform and h.token == token]

    async def wait_for(
        self, platform: str, token: str, count: int, timeout_s: float = 10.0
    ) -> list[Hit]:
        deadline = time.monotonic() + timeout_s
        while len(self.at(platform, token)) < count:
            assert time.monotonic() < deadline, (
                f"{platform}: {len(self.at(platform, token))} of {count} requests"
            )
            await asyncio.sleep(0.01)
        return self.at(platform, token)

    # -- the checks each platform makes ---------------------------------------------------------

    def _check(self, platform: str, robot: Robot, query: dict[str, str], body: bytes) -> str:
        """``ok`` or the name of the failed check."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return "bad json"
        if platform == "feishu":
            if len(body) > FEISHU_LIMIT:
                return "too large"
            if robot.secret is not None:
                stamp = str(data.get("timestamp", ""))
                if not stamp.isdigit() or abs(time.time() - int(stamp)) > 3600:
                    return "sign"
                if data.get("sign") != _feishu_sign(stamp, robot.secret):
                    return "sign"
            if robot.keyword and robot.keyword not in orjson.dumps(data.get("card")).decode():
                return "keyword"
        elif platform == "dingtalk":
            if len(body) > DINGTALK_LIMIT:
                return "too large"
            if robot.secret is not None:
                stamp = query.get("timestamp", "")
                if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3_600_000:
                    return "sign"
                if query.get("sign") != _dingtalk_sign(stamp, robot.secret):
                    return "sign"  # aiohttp decoded the url-encoding, as DingTalk does
            if robot.keyword and robot.keyword not in orjson.dumps(data).decode():
                return "keyword"
        elif platform == "wecom":
            content = data["markdown"]["content"] if data.get("msgtype") == "markdown" else ""
            if len(content.encode()) > WECOM_LIMIT:
                return "too large"
        elif len(body) > TEAMS_LIMIT:
            return "too large"
        return "ok"

    def _answer(self, platform: str, outcome: str, token: str) -> web.Response:
        if outcome == "429":
            return web.Response(status=429, headers={"Retry-After": str(RETRY_AFTER_S)})
        if outcome == "500":
            return web.Response(status=500, text=f"internal error for {token}")
        if platform == "msteams":
            status = {"ok": 202, "too large": 413}.get(outcome, 400)
            return web.Response(status=status, text="" if status == 202 else f"bad {token}")
        codes = {
            "feishu": {
                "ok": 0,
                "throttle": 9499,
                "sign": 19021,
                "keyword": 19024,
                "too large": 19036,
            },
            "dingtalk": {
                "ok": 0,
                "throttle": 130101,
                "sign": 310000,
                "keyword": 310000,
                "too large": 460101,
            },
            "wecom": {"ok": 0, "throttle": 45009, "too large": 40058},
        }[platform]
        code = codes.get(outcome, 93000)
        field_name = "code" if platform == "feishu" else "errcode"
        message = "success" if code == 0 else f"{outcome} (token {token})"
        return web.json_response({field_name: code, "msg": message, "errmsg": message})

    async def handle(self, request: web.Request, platform: str) -> web.Response:
        body = await request.read()
        query = dict(request.query)
        token = (
            request.match_info.get("token") or query.get("access_token") or query.get("key") or ""
        )
        robot = self.robots.get((platform, token))
        if robot is None:
            return web.Response(status=404)
        scripted = (
            (robot.script.pop(0) if len(robot.script) > 1 else robot.script[0])
            if (robot.script)
            else "ok"
        )
        checked = self._check(platform, robot, query, body)
        outcome = checked if checked != "ok" else scripted
        if outcome == "hang":
            outcome = "ok"
            self.hits.append(Hit(platform, token, query, body, self.clock(), "hang", 200))
            await asyncio.sleep(2.0)
        else:
            response = self._answer(platform, outcome, token)
            self.hits.append(
                Hit(platform, token, query, body, self.clock(), outcome, response.status)
            )
            return response
        return self._answer(platform, outcome, token)


@asynccontextmanager
async def serve(clock: Callable[[], float] = time.monotonic) -> AsyncIterator[Platforms]:
    platforms = Platforms(clock)
    app = web.Application()
    for platform, path in PATHS.items():

        async def handler(request: web.Request, platform: str = platform) -> web.Response:
            return await platforms.handle(request, platform)

        app.router.add_post(path.replace("{token}", "{token:[^/]+}"), handler)
    # No access log: it would print request paths and queries, which carry the tokens.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    platforms.port = runner.addresses[0][1]
    try:
        yield platforms
    finally:
        await runner.cleanup()
