"""``POST /oauth/token``: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4).

* Request (§4.4.2, §3.2): ``application/x-www-form-urlencoded`` body with
  ``grant_type=client_credentials`` and optional ``scope``; unknown parameters are ignored,
  repeated ones are an ``invalid_request``.
* Client authentication (§2.3.1): HTTP Basic with the form-urlencoded client id and secret, or
  ``client_id`` + ``client_secret`` body parameters — not both (§2.3: one method per request).
  The client id is the identity id; only identities created with a secret can use this grant.
* Success (§5.1): ``access_token``, ``token_type: "Bearer"``, ``expires_in``, ``scope`` (always
  present, so clients need not guess what a default meant), no refresh token (§4.4.3), and
  ``Cache-Control: no-store`` / ``Pragma: no-cache``.
* Errors (§5.2): JSON ``error`` + ``error_description``. ``invalid_client`` is a 401 with
  ``WWW-Authenticate: Basic realm="…"`` whichever way the client authenticated (§5.2 requires it
  for header auth and allows it otherwise; one shape is simpler for clients).
* Brute force: after too many failed authentications for a client id *from one address*, or
  from an address for any client ids (see :mod:`server.auth.ratelimit`), that address gets
  **429** with ``Retry-After`` and a §5.2 body whose ``error`` is still ``invalid_client``. The
  limit is never per client id alone: an attacker who knows Index's client id would otherwise
  lock Index out. Secret checks (scrypt) run off the event loop in a small pool, one at a time per
  address (:mod:`server.auth.secretcheck`); an address with too many waiting also gets 429. We
  chose 429 over a plain ``invalid_client`` because it tells a misconfigured legitimate client to
  back off rather than retry at once, and because it is sent *without* running scrypt, which a
  repeated 401 could not signal.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl, unquote_plus

import orjson
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response

from server.auth.errors import AuthDatabaseUnavailable, InvalidScope
from server.auth.exception_handlers import ExceptionHandler
from server.auth.identities import Identity, is_identity_id
from server.auth.ratelimit import FailureLimiter
from server.auth.scopes import format_scopes, parse_scopes
from server.auth.secretcheck import LaneFull, SecretChecks
from server.auth.service import IdentityService
from server.auth.types import Clock
from server.metrics import AUTH_FAILURES

log = structlog.get_logger("server.auth")

MAX_BODY: Final = 4096
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FAIL_CLIENT: Final = AUTH_FAILURES.labels(reason="client_auth")
_FAIL_LIMITED: Final = AUTH_FAILURES.labels(reason="rate_limited")


class OAuthError(Exception):
    """A §5.2 error response, raised inside the handler and rendered at its edge."""

    def __init__(
        self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.headers = error, description, status, headers or {}

    def response(self) -> Response:
        body = orjson.dumps({"error": self.error, "error_description": self.description})
        return Response(body, self.status, headers={**_NO_STORE, **self.headers},
                        media_type="application/json")


# RFC 6749 §4.1.2.1 defines ``temporarily_unavailable`` for exactly this (the server cannot
# handle the request now); §5.2 lists no such code for the token endpoint, so we borrow it with 503.
_DB_UNAVAILABLE: Final = OAuthError("temporarily_unavailable",
                                    "the auth database cannot be read; tokens already issued keep working",
                                    503, {"Retry-After": "30"})


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return exc.response()


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    return _DB_UNAVAILABLE.response()  # recorded for readiness by AuthDbHealth.reporting; never a 500


#: Exception → answer for ``POST /oauth/token`` (the admin routes' table is server.auth.exception_handlers).
EXCEPTION_HANDLERS: Final[Mapping[type[Exception], ExceptionHandler]] = {
    OAuthError: _oauth_error,  # 400 / 401 / 429, RFC 6749 §5.2
    AuthDatabaseUnavailable: _database_unavailable,  # 503 temporarily_unavailable, Retry-After
}


class TokenEndpoint:
    """The token endpoint; one instance per worker (it holds the failure counters)."""

    def __init__(self, service: IdentityService, *, clock: Clock = time.time) -> None:
        self.service = service
        settings = service.settings
        self._challenge = {"WWW-Authenticate": f'Basic realm="{settings.realm}"'}
        window = settings.failed_auth_window_s
        # Per (client id, address), not per client id: whoever knows a client id must not be able
        # to lock that client out by failing on purpose from somewhere else (issue 25 item 8).
        self.by_client_address = FailureLimiter(window_s=window,
                                                max_failures=settings.failed_auth_max_per_client, clock=clock)
        self.by_address = FailureLimiter(window_s=window, max_failures=settings.failed_auth_max_per_address,
                                         clock=clock)
        self.secret_checks = SecretChecks(threads=settings.secret_check_threads,
                                          queued_per_address=settings.secret_checks_queued_per_address)
        self._reported_token = service.health.reporting(self._token)  # sqlite3.Error → 503, recorded

    def routes(self) -> list[Route]:
        """The route, under its own two-row exception table: RFC 6749 §5.2 answers have their own
        shape (not the admin table's ``{"error", "detail"}``)."""
        app = ExceptionMiddleware(request_response(self._reported_token), handlers=dict(EXCEPTION_HANDLERS))
        return [Route("/oauth/token", app, methods=["POST"], name="oauth_token")]

    async def _token(self, request: Request) -> Response:
        params = await _form(request)
        grant_type = params.get("grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", "missing grant_type")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        client_id, secret = self._credentials(request, params)
        identity = await self._authenticate(client_id, secret,
                                            request.client.host if request.client else "unknown")
        scopes = identity.scopes
        requested = params.get("scope", "").strip()
        if requested:
            try:
                scopes = parse_scopes(requested)
            except InvalidScope as exc:
                raise OAuthError("invalid_scope", str(exc)) from None
            if not scopes <= identity.scopes:
                raise OAuthError("invalid_scope",
                                 f"scope(s) {sorted(scopes - identity.scopes)} not allowed for this client")
        issued = await run_in_threadpool(
            self.service.issue_for, identity, scopes, self.service.settings.default_lifetime_s
        )
        body = {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": format_scopes(issued.scopes),
        }
        return Response(orjson.dumps(body), 200, headers=_NO_STORE, media_type="application/json")

    def _credentials(self, request: Request, params: dict[str, str]) -> tuple[str, str]:
        header = request.headers.get("authorization")
        body_id, body_secret = params.get("client_id"), params.get("client_secret")
        if header is not None:
            if body_secret is not None:
                raise OAuthError("invalid_request", "use one client authentication method, not both")
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() != "basic":
                raise self._invalid_client("unsupported client authentication scheme")
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII header text
                raise self._invalid_client("malformed Basic credentials") from None
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                raise self._invalid_client("malformed Basic credentials")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)  # §2.3.1 form-encodes both
            if body_id is not None and body_id != client_id:
                raise OAuthError("invalid_request",
                                 "client_id in the body differs from the Basic credentials")
            return client_id, secret
        if body_id is None or body_secret is None:
            raise self._invalid_client("client authentication required")
        return body_id, body_secret

    async def _authenticate(self, client_id: str, secret: str, address: str) -> Identity:
        pair_key, address_key = client_id[:64] + " " + address, address
        # Log the client id only when it looks like one: a client that swapped its id and secret
        # fields would otherwise put its secret in our logs.
        logged_id = client_id if is_identity_id(client_id) else "<malformed>"
        if self.by_client_address.blocked(pair_key) or self.by_address.blocked(address_key):
            _FAIL_LIMITED.inc()  # counted, not logged: the block was logged when it began
            raise self._too_many("too many failed client authentications; retry later",
                                 self.by_address.window_s)
        try:
            identity = await self.secret_checks.run(address, self.service.authenticate_client, client_id,
                                                    secret)
        except LaneFull:
            _FAIL_LIMITED.inc()
            raise self._too_many("too many client authentications in progress from this address", 1) from None
        if identity is None:
            pair_blocked = self.by_client_address.record_failure(pair_key)
            address_blocked = self.by_address.record_failure(address_key)
            _FAIL_CLIENT.inc()
            log.warning("auth.client_auth_failed", client_id=logged_id, address=address)
            if pair_blocked or address_blocked:
                log.warning("auth.client_rate_limited", client_id=logged_id, address=address,
                            scope="address" if address_blocked else "client_id+address",
                            window_s=self.by_address.window_s)
            raise self._invalid_client("client authentication failed")
        self.by_client_address.reset(pair_key)
        return identity

    @staticmethod
    def _too_many(description: str, retry_after_s: float) -> OAuthError:
        return OAuthError("invalid_client", description, 429, {"Retry-After": str(int(retry_after_s))})

    def _invalid_client(self, description: str) -> OAuthError:
        return OAuthError("invalid_client", description, 401, self._challenge)


async def _form(request: Request) -> dict[str, str]:
    """The form body as a dict; ``invalid_request`` for a wrong type, oversize, or repeated param."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise OAuthError("invalid_request", "request body too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "malformed form body") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuthError("invalid_request", f"parameter {name!r} repeated")
        params[name] = value
    return params
