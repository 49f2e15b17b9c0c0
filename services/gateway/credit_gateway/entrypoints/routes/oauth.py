"""OAuth2 client credentials (RFC 6749 §4.4) and the JWKS."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from credit_gateway.entrypoints.deps import GatewayDep, rate_limit
from credit_gateway.entrypoints.problems import PROBLEM, PROBLEM_SCHEMA
from credit_gateway.entrypoints.schemas import TokenResponse


def _oauth_error_schema(*errors: str) -> dict[str, Any]:
    """The OpenAPI description of an RFC 6749 §5.2 error answer with one of these codes."""
    return {
        "schema": {
            "type": "object",
            "required": ["error", "error_description"],
            "properties": {
                "error": {"type": "string", "enum": list(errors)},
                "error_description": {"type": "string"},
            },
        }
    }


# The bodies FastAPI reads a form from; a token request is urlencoded (RFC 6749 §4.4.2).
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class OAuthRoute(APIRoute):
    """A token request the form cannot be read from (no grant_type, an empty body, a body
    that is not a form) is answered as RFC 6749 §5.2 asks, 400 invalid_request in the OAuth
    error shape client libraries parse, not the 422 problem document of other routes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def oauth_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as refusal:
                content_type = request.headers.get("content-type", "").partition(";")[0]
                if content_type.strip().lower() not in _FORM_TYPES:
                    description = "the request must be an application/x-www-form-urlencoded form"
                elif any(e.get("type") == "missing" for e in refusal.errors()):
                    description = "grant_type is missing"
                else:  # a file uploaded as a parameter
                    description = "the form's parameters must be text"
                return _oauth_error(400, "invalid_request", description)

        return oauth_handler


router = APIRouter(tags=["authentication"], route_class=OAuthRoute)
# The answers a token request may get besides its own (OAuthRoute answers what FastAPI
# would refuse with 415 or 422 as 400 invalid_request).
ERROR_STATUSES = (400, 401, 413, 429, 503)


def document_without_validation_error(app: FastAPI) -> None:
    """Leaves out of the OpenAPI document the 422 FastAPI describes for every route with
    parameters: the token route never gives it (OAuthRoute)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # built once, then kept by FastAPI
        document["paths"]["/oauth/token"]["post"]["responses"].pop("422", None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


# Token requests for one client id from one address: a client needs one token per few
# minutes per instance; past these each attempt is a 429 before its secret is hashed (some
# 40 ms of a core). Per address, so that guesses from elsewhere do not lock a client out:
# behind a proxy that holds only if the gateway believes its X-Forwarded-For
# (`forwarded_allow_ips`), or every caller has the proxy's address.
TOKEN_ATTEMPTS_PER_SECOND = 2.0
TOKEN_ATTEMPTS_BURST = 20
# Secrets hashed for one client id, from every address together: a secret the replica has
# verified for the client before is recognised without hashing and not counted, so a flood
# of wrong ones for a client id refuses (429) only further unrecognised ones.
TOKEN_HASHES_PER_SECOND = 5.0
TOKEN_HASHES_BURST = 20


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="credit"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _uses_basic(request: Request) -> bool:
    """Whether the request authenticates with HTTP Basic, even credentials that cannot be
    decoded."""
    return request.headers.get("authorization", "").partition(" ")[0].lower() == "basic"


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    if not _uses_basic(request):
        return None
    value = request.headers["authorization"].partition(" ")[2]
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
        return None
    return client_id, secret


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses={
        400: {
            "description": "invalid_request: no grant_type, a body that is not a form, or "
            "credentials both in the Authorization header and in the form (one method per "
            "request, RFC 6749 §2.3); unsupported_grant_type; invalid_scope. A multipart "
            "body that cannot be parsed is a problem document.",
            "content": {
                "application/json": _oauth_error_schema(
                    "invalid_request", "unsupported_grant_type", "invalid_scope"
                ),
                PROBLEM: {"schema": PROBLEM_SCHEMA},
            },
        },
        401: {
            "description": "invalid_client (WWW-Authenticate: Basic)",
            "content": {"application/json": _oauth_error_schema("invalid_client")},
        },
        429: {
            "description": "rate_limited: too many attempts for this client id (Retry-After)",
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}},
        },
    },
)
async def token(
    request: Request,
    gateway: GatewayDep,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> Any:
    """Issues a short-lived access token for a client's credentials."""
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    if _uses_basic(request) and (client_id or client_secret):
        # RFC 6749 §2.3: one authentication method per request. (A form value sent empty
        # counts as omitted, §3.2: FastAPI reads it as None.)
        return _oauth_error(
            400,
            "invalid_request",
            "client credentials must be sent either in the Authorization header or in "
            "the form, not both",
        )
    basic = _basic_credentials(request)
    if basic:
        client_id, client_secret = basic
    if not client_id or not client_secret or "\x00" in client_id or len(client_id) > 64:
        return _oauth_error(401, "invalid_client", "client authentication failed")
    host = request.client.host if request.client else "unknown"
    await rate_limit(
        request,
        gateway,
        f"token:{client_id}:{host}",
        per_second=TOKEN_ATTEMPTS_PER_SECOND,
        burst=TOKEN_ATTEMPTS_BURST,
    )
    identity = client_id

    async def limit_hashing() -> None:
        # Whatever the addresses: a secret not recognised costs scrypt, and a flood of them
        # for one client id from many addresses would hold the hashing threads.
        await rate_limit(
            request,
            gateway,
            f"token-hash:{identity}",
            per_second=TOKEN_HASHES_PER_SECOND,
            burst=TOKEN_HASHES_BURST,
        )

    client = await gateway.clients.authenticate(client_id, client_secret, limit_hashing)
    if client is None:
        return _oauth_error(401, "invalid_client", "client authentication failed")
    requested = set(scope.split()) if scope else None
    if requested is not None and not requested <= client.scopes:
        return _oauth_error(400, "invalid_scope", "the client does not hold every requested scope")
    issued = gateway.tokens.issue(client, requested)
    return JSONResponse(
        TokenResponse(
            access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
        ).model_dump(),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.get("/.well-known/jwks.json")
async def jwks(gateway: GatewayDep) -> dict[str, Any]:
    """The public keys that verify the gateway's tokens."""
    return gateway.keys.jwks()
