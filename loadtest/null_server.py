"""A raw uvloop + httptools HTTP/1.1 server answering constant bytes: the generator's ceiling.

No ASGI, no framework: per request it parses the head (and skips the body) and writes one
prebuilt response. Whatever rate the load generator reaches against it is the most the
generator can measure on this machine; any server result near it is generator-bound.

    python -m loadtest.null_server --port 8099      # binds 127.0.0.1 only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

import httptools
import uvloop

ANSWER = b'{"segment_ids":[],"deal_ids":[]}'
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER)


class NullProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: Any = None
        self.parser = httptools.HttpRequestParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's TCPTransport is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        if self.transport is not None:
            self.transport.write(RESPONSE)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NullProtocol, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
