"""Who may read ``/metrics`` and the status page: the ops endpoints' access rules, in one place.

Both are safe by default and need no token from the machine itself, which is where ``make run``
and an SSH session are:

======================  ======================================================================
``/metrics``            clients in ``metrics_allow`` (default: loopback) without a token; anyone
                        else with ``Authorization: Bearer <metrics_token>`` (a static scrape
                        token, for Prometheus' ``credentials_file``) or an ``admin``-scope token.
``/status[.json]``      ``status_local_only = true`` (default): loopback clients only, no token.
                        ``false``: anyone holding an ``admin``-scope token (the HTML shell is
                        static and asks for one); anyone at all if admin auth is switched off.
======================  ======================================================================

A reverse proxy on the same host makes every client look local (uvicorn runs with
``proxy_headers=False``): behind one, narrow ``metrics_allow`` and turn ``status_local_only`` off.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.observability.settings import ObservabilitySettings, from_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def settings_of(request: Request) -> ObservabilitySettings:
    return from_settings(getattr(request.app.state, "settings", None))


def services_of(request: Request) -> Any:
    return getattr(request.app.state, "services", None)


def client_address(request: Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = request.client.host if request.client else None
    try:
        addr = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


def is_loopback(request: Request) -> bool:
    addr = client_address(request)
    return addr is not None and addr.is_loopback


def _json(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(b'{"error":"' + message.encode() + b'"}', status, headers=headers,
                    media_type="application/json")


def _admin_guard(services: Any) -> Any | None:
    """The auth guard when it protects the ``admin`` scope, else ``None``."""
    guard = getattr(services, "guard", None)
    enabled = getattr(guard, "enabled", None)
    return guard if callable(enabled) and enabled("admin") else None


def _admin_token_ok(request: Request) -> bool:
    guard = _admin_guard(services_of(request))
    return guard is not None and guard.check(request.headers.get("authorization"), "admin") is None


def scrape_token(settings: ObservabilitySettings) -> str:
    """The static scrape token: ``metrics_token``, else the first line of ``metrics_token_file``."""
    if settings.metrics_token:
        return settings.metrics_token
    if settings.metrics_token_file:
        try:
            return Path(settings.metrics_token_file).read_text().strip()
        except OSError:
            return ""  # validated at startup; a file removed since then opens nothing
    return ""


def _bearer(request: Request) -> str:
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def metrics_refusal(request: Request) -> Response | None:
    """``None`` when the caller may scrape; else a 401 that says what would let it in."""
    settings = settings_of(request)
    addr = client_address(request)
    if addr is not None and any(addr in net for net in allowed_networks(settings)):
        return None
    token, offered = scrape_token(settings), _bearer(request)
    if token and offered and hmac.compare_digest(token.encode(), offered.encode()):
        return None
    if offered and _admin_token_ok(request):
        return None
    return _json(401, "metrics need a scrape token or an address in observability.metrics_allow",
                 {"www-authenticate": 'Bearer realm="metrics"'})


def allowed_networks(settings: ObservabilitySettings) -> list[Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.metrics_allow]


def status_refusal(request: Request, *, data: bool) -> Response | None:
    """``None`` when the caller may see the page (``data=False``) or its JSON (``data=True``)."""
    settings = settings_of(request)
    if not settings.status_page_enabled:
        return _json(404, "status page disabled")
    if settings.status_local_only:
        if is_loopback(request):
            return None
        return _json(403, "status page is local-only (observability.status_local_only)")
    guard = _admin_guard(services_of(request))
    if guard is None or not data:
        return None  # admin auth off: the operator opened it; the HTML shell holds no data
    denial = guard.check(request.headers.get("authorization"), "admin")
    return None if denial is None else denial.response()
