"""The fake UID2 operator on loopback, with a control path to inject faults from another process.

:mod:`loadtest.fake_operator` serves ``tests/fakes/uid2_operator.py`` over HTTP; this adds
``POST /_fault?kind=500&count=N`` (``tests.fakes.uid2_operator.Fault`` values: ``500``, ``429``,
``slow``, ``garbage``, ``bad_keys``, ...) and ``GET /_requests`` (how many key calls it answered,
by status), so a reliability check can make the operator misbehave while the server runs::

    python -m loadtest.reliability.operator --port P --keys keys.json --secret-file s.b64
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from loadtest import servers, traffic
from loadtest.fake_operator import API_KEY, KEY_PATHS, OperatorApp
from tests.fakes.uid2_operator import FakeUID2Operator, Fault


class ControlledOperator(OperatorApp):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_fault":
            query = parse_qs(scope["query_string"].decode())
            kind, count = Fault(query["kind"][0]), int(query.get("count", ["1"])[0])
            self.fake.faults.clear()
            self.fake.inject(*[kind] * count)
            await self._send(send, httpx.Response(200, content=b"ok"))
            return
        if scope["type"] == "http" and scope["path"] == "/_requests":
            counts: dict[str, int] = {}
            for _, status in self.fake.requests:
                counts[str(status)] = counts.get(str(status), 0) + 1
            await self._send(send, httpx.Response(200, content=orjson.dumps(counts)))
            return
        await super().__call__(scope, receive, send)


def start(work: Path, *,
          slow_seconds: float = 5.0) -> tuple[servers.ServerProcess, dict[str, Any], dict[str, Any]]:
    """Start the operator; returns (process, the key document it serves, the ``[uid2]`` settings)."""
    document = traffic.uid2_key_document(time.time())
    secret = traffic.random_secret()
    work.mkdir(parents=True, exist_ok=True)
    keys_file, secret_file = work / "uid2-keys.json", work / "uid2-secret.b64"
    keys_file.write_bytes(orjson.dumps(document))
    secret_file.write_text(secret)
    os.chmod(secret_file, 0o600)
    port = servers.free_port()
    argv = [str(servers.VENV_BIN / "python"), "-m", "loadtest.reliability.operator", "--port", str(port),
            "--keys", str(keys_file), "--secret-file", str(secret_file), "--slow", str(slow_seconds)]
    proc = servers._spawn("uid2-operator", argv, {}, port, 1, "/health", work / "logs", 30.0)
    settings = {"enabled": True, "base_url": proc.base_url, "api_key": API_KEY, "secret": secret}
    return proc, document, settings


def inject(base_url: str, kind: str, count: int) -> None:
    httpx.post(f"{base_url}/_fault", params={"kind": kind, "count": count}, timeout=5.0).raise_for_status()


def requests_by_status(base_url: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{base_url}/_requests", timeout=5.0).json()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--slow", type=float, default=5.0)
    args = parser.parse_args()
    import uvicorn

    document = orjson.loads(args.keys.read_bytes())
    secret = base64.b64decode(args.secret_file.read_text().strip())
    fake = FakeUID2Operator(secret=secret, api_key=API_KEY, keys={p: document for p in KEY_PATHS},
                            slow_seconds=args.slow)
    uvicorn.run(ControlledOperator(fake), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
