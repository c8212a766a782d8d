"""The fake UID2 operator (``tests/fakes/uid2_operator.py``) served over HTTP on loopback.

The fake is an ``httpx`` handler; this wraps it in a minimal ASGI app so a server *process*
under load test can refresh its keys from it like from the real operator::

    python -m loadtest.fake_operator --port 8098 --keys keys.json --secret-file secret.b64

``keys.json`` is the decrypted key response served at ``/v2/key/bidstream`` and
``/v2/key/sharing``; the API key is ``fake-api-key`` unless ``--api-key`` says otherwise.
Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.fakes.uid2_operator import FakeUID2Operator

API_KEY = "fake-api-key"
KEY_PATHS = ("/v2/key/bidstream", "/v2/key/sharing")


class OperatorApp:
    """ASGI → ``httpx.Request`` → the fake's handler → ASGI."""

    def __init__(self, fake: FakeUID2Operator) -> None:
        self.fake = fake

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/health":
            await self._send(send, httpx.Response(200, content=b"ok"))
            return
        url = f"http://127.0.0.1{scope['path']}"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        response = await self.fake.handle(httpx.Request(scope["method"], url, headers=headers, content=body))
        await self._send(send, response)

    @staticmethod
    async def _send(send: Any, response: httpx.Response) -> None:
        content = response.content
        headers = [(b"content-length", str(len(content)).encode())]
        if "content-type" in response.headers:
            headers.append((b"content-type", response.headers["content-type"].encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def build_app(keys_file: Path, secret_file: Path, api_key: str = API_KEY) -> OperatorApp:
    document = orjson.loads(keys_file.read_bytes())
    secret = base64.b64decode(secret_file.read_text().strip())
    return OperatorApp(FakeUID2Operator(secret=secret, api_key=api_key,
                                        keys={p: document for p in KEY_PATHS}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--api-key", default=API_KEY)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(build_app(args.keys, args.secret_file, args.api_key), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
