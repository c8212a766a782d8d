"""The uvicorn engine's protocol: ``/rtd`` and ``/segments`` answered straight from the socket.

Under ASGI a request is a scope, a ``RequestResponseCycle`` with its ``asyncio.Event``, a task, a
``receive`` and two ``send`` messages whose headers uvicorn checks one by one: about as much CPU
as bare Starlette's whole request (issue 21 measured it beside callgrind's count of our handler).
Our hot endpoints never wait for anything — parse → gate → decrypt → lookup → respond runs on
bytes already in memory — so :class:`DirectHttpToolsProtocol` collects a hot request's body in
the parser callbacks and, when the message is complete, calls the endpoint's ``reply`` (the same
one the ASGI path calls) and writes the response in one ``transport.write``. No task, no event.

Only the plain case is taken: ``POST /rtd`` or ``GET /segments`` by their exact raw path, no
``Expect: 100-continue``, no upgrade, nothing pipelined ahead of it, the client reading its
answers (uvicorn's write flow not paused). The endpoint can still hand a request back
(``reply`` → ``None``: a repeated header, a ``Content-Encoding``), and a body that grows past
``max_body_bytes`` is handed back too; either way the request is *promoted*: uvicorn's own
``on_headers_complete`` builds its cycle and task as if it had never been diverted, with the
body received so far, so every rule of the ASGI path (400/413/415, 100-continue, drain) applies
unchanged. The connection guards of :class:`~server.protocol.GuardedHttpToolsProtocol` (timeouts,
caps, 408/431) read the same cycle fields, which :class:`DirectCycle` has.
"""

from __future__ import annotations

import asyncio
from typing import Final

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from server.dispatch import DirectEndpoint, SegmentServerApp
from server.http import Reply, ResponseHeads
from server.protocol import GuardedHttpToolsProtocol

_SERVER_ERROR: Final[Reply] = (500, [(b"content-type", b"text/plain; charset=utf-8")],
                               b"Internal Server Error")


class _NoEvent:
    """What uvicorn's ``connection_lost`` and the guards' ``drop`` set on a cycle: nobody waits
    on a direct request, so there is nothing to wake."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT: Final = _NoEvent()
_HEADS: Final = ResponseHeads()  # one per worker: responses are written from one thread


class DirectCycle:
    """A hot request being received for a direct answer: the fields uvicorn's protocol and the
    connection guards read on ``self.cycle``, plus the body, the endpoint and the query string.
    No link to the cycle before it: a kept-alive connection's cycles never form a chain."""

    __slots__ = ("body", "disconnected", "endpoint", "keep_alive", "more_body", "path", "query",
                 "response_complete")
    message_event: Final = _NO_EVENT
    response_started: Final = False  # True only once complete, and nothing reads it then

    def __init__(self, endpoint: DirectEndpoint, path: bytes, query: bytes, keep_alive: bool) -> None:
        self.endpoint, self.path, self.query = endpoint, path, query
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.more_body = True
        self.response_complete = False
        self.disconnected = False


def find_app(app: object) -> SegmentServerApp | None:
    """Our app under whatever uvicorn wrapped it in (``--log-level trace`` adds a logger)."""
    for _ in range(4):
        if isinstance(app, SegmentServerApp):
            return app
        app = getattr(app, "app", None)
    return None


class DirectHttpToolsProtocol(GuardedHttpToolsProtocol):
    """:class:`~server.protocol.GuardedHttpToolsProtocol` with the direct path for hot requests.

    Compiled with the hot path (``segments.compiled``), so the parser callbacks it overrides run
    as native code. uvicorn's ``on_message_begin`` builds the ASGI scope of every request; here it
    is built only for a request that goes the ASGI way (:meth:`_begin_asgi`).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.segment_app = find_app(self.app)

    def on_message_begin(self) -> None:
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self.scope = None  # type: ignore[assignment]

    def on_url(self, url: bytes) -> None:  # uvicorn's, compiled
        so_far: bytes = self.url  # (``self.url += url`` trips mypyc 1.x on an inherited attribute)
        self.url = so_far + url

    def on_header(self, name: bytes, value: bytes) -> None:  # uvicorn's, compiled
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp keeps trailing whitespace, RFC 9110 §5.5 excludes it
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        app = self.segment_app
        previous = self.cycle  # a RequestResponseCycle or a DirectCycle: both have the flag read here
        if app is not None and app.direct and not self.expect_100_continue \
                and (previous is None or previous.response_complete) and not self.flow.write_paused \
                and self.limit_concurrency is None and not self.parser.should_upgrade():
            path, _, query = self.url.partition(b"?")
            endpoint = app.direct.get((self.parser.get_method(), path))
            if endpoint is not None and b"#" not in query:
                keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
                self.cycle = DirectCycle(endpoint, path, query, keep_alive)  # type: ignore[assignment]
                return
        self._begin_asgi()
        HttpToolsProtocol.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        cycle: object = self.cycle
        if not isinstance(cycle, DirectCycle):
            HttpToolsProtocol.on_body(self, body)
        elif not cycle.response_complete:
            cycle.body += body
            if len(cycle.body) > self.limits.max_body:
                self._promote(cycle)  # the ASGI path answers 413 (after its auth check)

    def on_message_complete(self) -> None:
        cycle: object = self.cycle
        if not isinstance(cycle, DirectCycle):
            HttpToolsProtocol.on_message_complete(self)
        elif not cycle.response_complete:
            cycle.more_body = False
            self._answer(cycle)

    def _answer(self, cycle: DirectCycle) -> None:
        app = self.segment_app
        assert app is not None
        try:
            request = (self.client, self.parser.get_method(), cycle.path)
            reply = app.reply_direct(cycle.endpoint, request, self.headers, cycle.query, bytes(cycle.body))
        except Exception as exc:  # what uvicorn's run_asgi does for an app that raised
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            cycle.keep_alive = False
            reply = _SERVER_ERROR
        if reply is None:
            self._promote(cycle)
            return
        self.transport.write(_HEADS.render(STATUS_LINE[reply[0]], self.server_state.default_headers, reply,
                                           cycle.keep_alive))
        cycle.response_complete = True
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()

    def _begin_asgi(self) -> None:
        """uvicorn's ``on_message_begin``, run late: the ASGI scope, with what the parser gave."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        HttpToolsProtocol.on_message_begin(self)
        self.url, self.expect_100_continue = url, expect
        self.headers = self.scope["headers"] = headers

    def _promote(self, cycle: DirectCycle) -> None:
        """Hand the request to uvicorn's ASGI path, as if it had never been diverted."""
        self.cycle = None  # type: ignore[assignment]  # nothing ahead of it: uvicorn starts its task now
        self._begin_asgi()
        HttpToolsProtocol.on_headers_complete(self)  # its cycle and task, from the parser's state
        promoted = self.cycle
        promoted.body += cycle.body
        promoted.more_body = cycle.more_body
        promoted.message_event.set()
