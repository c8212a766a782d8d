"""``[server] engine = "uvicorn"``: uvloop + httptools, with our connection guard.

Hostile-client protections (all per worker, from ``[server]``):

==========================  ===================================================================
header_timeout_seconds      :class:`~server.protocol.GuardedHttpToolsProtocol`: 408 + close
body_timeout_seconds        the same protocol: a body that stops arriving → 408 + close
keep_alive_timeout_seconds  uvicorn's ``timeout_keep_alive`` (idle after a response)
max_connections             the protocol: past the cap the oldest connection without a request
                            is closed (never a 503, never one that has served a request)
header size                 the protocol: 32 KiB → 431
==========================  ===================================================================
"""

from __future__ import annotations

import math

from server.config import ServerSettings
from server.observability.logging import uvicorn_log_config
from server.serving import APP, GRACEFUL_SECONDS


def run(server: ServerSettings, log_level: str, log_format: str) -> None:
    import uvicorn

    uvicorn.run(APP, factory=True, host=server.host, port=server.port, workers=server.workers,
                loop="uvloop", http="server.direct:DirectHttpToolsProtocol", access_log=False,
                log_level=log_level, timeout_graceful_shutdown=GRACEFUL_SECONDS, proxy_headers=False,
                timeout_keep_alive=math.ceil(server.keep_alive_timeout_seconds), ws="none",
                log_config=uvicorn_log_config(log_level, log_format))
