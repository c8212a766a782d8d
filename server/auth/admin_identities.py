"""``/admin/identities…``: the ops team's identity and token operations over HTTP (JSON).

==========================================  ======  ===========================================
route                                       method  does
==========================================  ======  ===========================================
``/admin/identities``                       POST    create (returns the client secret once)
``/admin/identities``                       GET     list
``/admin/identities/{id}``                  GET     get
``/admin/identities/{id}``                  DELETE  delete (its tokens stop working within 1 s)
``/admin/identities/{id}/tokens``           POST    issue a token (``scopes``, ``expires_in``)
``/admin/identities/{id}/tokens``           DELETE  revoke all of its tokens
``/admin/identities-with-token``            POST    create an identity and its first token
==========================================  ======  ===========================================

Every route requires the ``admin`` scope (unless admin auth is switched off). ``expires_in`` is
seconds, 3600–86400, default from settings (24 h); a token scope the identity lacks is a 400.
Store calls block (SQLite, scrypt), so they run in the thread pool. Handlers raise; the one
exception table (:mod:`server.auth.exception_handlers`) answers, an unreadable auth database
included (503, recorded for readiness by :meth:`~server.auth.dbhealth.AuthDbHealth.reporting`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from server.auth.exception_handlers import admin_endpoint
from server.auth.guard import Guard
from server.auth.jsonio import field, json_object, json_response
from server.auth.require import Endpoint
from server.auth.service import IdentityService


def admin_identity_routes(service: IdentityService, guard: Guard) -> list[Route]:
    """The routes: admin scope first, then the handler under the one exception table."""

    def handler(fn: Endpoint) -> ASGIApp:
        return admin_endpoint(guard, service.health.reporting(fn))

    async def create_identity(request: Request) -> Response:
        """Create an identity: ``{"display_name", "scopes", "client_secret": true}``."""
        data = await json_object(request)
        name = field(data, "display_name", str, "")
        scopes = field(data, "scopes", (list, str), [])
        with_secret = field(data, "client_secret", bool, True)
        identity, secret = await run_in_threadpool(service.create_identity, name, scopes,
                                                   with_secret=with_secret)
        return json_response({"identity": identity.to_json(), "client_secret": secret}, 201)

    async def list_identities(request: Request) -> Response:
        """Every identity (no secrets)."""
        identities = await run_in_threadpool(service.list_identities)
        return json_response({"identities": [i.to_json() for i in identities]})

    async def get_identity(request: Request) -> Response:
        """One identity."""
        identity = await run_in_threadpool(service.get_identity, request.path_params["identity_id"])
        return json_response(identity.to_json())

    async def delete_identity(request: Request) -> Response:
        """Delete an identity; its tokens are refused everywhere within ~1 s."""
        await guard.view.before_shared_write()  # [cluster]: refused (503) if other nodes cannot learn it
        await run_in_threadpool(service.delete_identity, request.path_params["identity_id"])
        guard.view.shared_write_done()
        return Response(status_code=204)

    async def issue_token(request: Request) -> Response:
        """Issue a token: ``{"scopes": [...], "expires_in": seconds}`` (both optional)."""
        data = await json_object(request, optional=True)
        scopes = field(data, "scopes", (list, str))
        expires_in = data.get("expires_in")  # type and range checked by the service (message names the range)
        issued = await run_in_threadpool(service.get_token, request.path_params["identity_id"], scopes,
                                         expires_in)
        return json_response(issued.to_json(), 201)

    async def revoke_tokens(request: Request) -> Response:
        """Revoke every token issued so far to the identity."""
        identity_id = request.path_params["identity_id"]
        await guard.view.before_shared_write()  # [cluster]: refused (503) if other nodes cannot learn it
        not_before_ms = await run_in_threadpool(service.revoke_tokens, identity_id)
        guard.view.shared_write_done()
        return json_response({"identity_id": identity_id, "tokens_valid_from": not_before_ms / 1000})

    async def create_identity_with_token(request: Request) -> Response:
        """Create an identity and its first token in one call."""
        data = await json_object(request)
        identity, secret, issued = await run_in_threadpool(
            lambda: service.create_identity_and_token(
                field(data, "display_name", str, ""),
                field(data, "scopes", (list, str), []),
                token_scopes=field(data, "token_scopes", (list, str)),
                lifetime_s=data.get("expires_in"),
                with_secret=field(data, "client_secret", bool, False),
            )
        )
        body = {"identity": identity.to_json(), "client_secret": secret, "token": issued.to_json()}
        return json_response(body, 201)

    return [
        Route("/admin/identities", handler(create_identity), methods=["POST"], name="admin_identity_create"),
        Route("/admin/identities", handler(list_identities), methods=["GET"], name="admin_identity_list"),
        Route("/admin/identities/{identity_id}", handler(get_identity), methods=["GET"],
              name="admin_identity_get"),
        Route("/admin/identities/{identity_id}", handler(delete_identity), methods=["DELETE"],
              name="admin_identity_delete"),
        Route("/admin/identities/{identity_id}/tokens", handler(issue_token), methods=["POST"],
              name="admin_token_issue"),
        Route("/admin/identities/{identity_id}/tokens", handler(revoke_tokens), methods=["DELETE"],
              name="admin_token_revoke_all"),
        Route("/admin/identities-with-token", handler(create_identity_with_token), methods=["POST"],
              name="admin_identity_with_token"),
    ]
