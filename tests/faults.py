"""A misbehaving network between a client and Synapse, for tests: an HTTP proxy on loopback
whose rules delay, stall, fail, drop, reset or cut requests by method and path.

    async with FaultProxy(homeserver.url) as proxy:
        proxy.add(Rule(path=r"/media/.*/download", stall=True))   # held until proxy.release()
        engine.login(proxy.url, ...)

Rules are checked in order; the first that matches (and has uses left) applies. What a rule
can do to a request, in the order it happens:

- `stall`, `delay`: hold it (until release(), or for so many seconds);
- `drop`: close the connection without an answer; the request never reaches the server;
- `reset`: the same with a TCP reset (RST) instead of a clean close;
- `status`: answer this HTTP status; the request never reaches the server;
- `cut_response`: forward it, then close the connection instead of answering (the server did
  it, the client never hears back);
- `truncate`: forward it, send the answer's headers (with the full Content-Length) and only the
  first `truncate` bytes of its body, then reset the connection.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class Rule:
    path: str  # a regex searched in the request path
    method: str | None = None
    status: int | None = None  # answer this status instead of forwarding
    delay: float = 0.0  # wait this long before forwarding
    stall: bool = False  # hold the request until release() is called
    cut_response: bool = False  # forward it, then drop the connection instead of answering
    drop: bool = False  # close the connection before forwarding (the server never sees it)
    reset: bool = False  # the same, with a TCP RST
    truncate: int | None = None  # forward it, answer only this many bytes of the body, reset
    times: int | None = None  # how many requests it applies to (None: all)
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.method is None or self.method == method) and re.search(self.path, path) is not None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[Rule] = []
        self.seen: list[tuple[str, str]] = []
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def release(self) -> None:
        """Let every stalled request (and later ones) through."""
        self._released.set()

    def requests(self, path_regex: str) -> int:
        return sum(1 for _, path in self.seen if re.search(path_regex, path))

    async def __aenter__(self) -> FaultProxy:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        self.seen.append((request.method, path))
        rule = next((r for r in self.rules if r.matches(request.method, request.path)), None)
        if rule is not None:
            rule.hits += 1
            if rule.stall:
                await self._released.wait()
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.drop or rule.reset:
                _close(request, reset=rule.reset)
                raise asyncio.CancelledError
            if rule.status is not None:
                return web.json_response({"errcode": "M_UNKNOWN", "error": f"injected {rule.status}"},
                                         status=rule.status)
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(request.method, self.upstream + path, data=body or None,
                                         headers=headers, allow_redirects=False) as upstream:
            if rule is not None and rule.cut_response:
                await upstream.read()
                assert request.transport is not None
                request.transport.close()  # the server did it; the client never hears back
                raise asyncio.CancelledError
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP
            })
            if rule is not None and rule.truncate is not None:
                body = await upstream.read()
                response.content_length = len(body)
                await response.prepare(request)
                await response.write(body[: min(rule.truncate, max(len(body) - 1, 0))])
                await asyncio.sleep(0.05)  # let the part go out before the reset
                _close(request, reset=True)
                raise asyncio.CancelledError
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response


def _close(request: web.Request, *, reset: bool) -> None:
    """Close the client's connection: cleanly (FIN), or with a TCP reset (RST)."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if reset and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort() if reset else transport.close()
