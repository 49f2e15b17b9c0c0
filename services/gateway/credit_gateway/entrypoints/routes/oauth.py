"""OAuth2 client credentials (RFC 6749 §4.4) and the JWKS."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from credit_gateway.entrypoints.deps import GatewayDep, rate_limit
from credit_gateway.entrypoints.schemas import TokenResponse

router = APIRouter(tags=["authentication"])

# Token requests for one client id from one address: a client needs one token per few
# minutes per instance; past these each attempt is a 429 before its secret is hashed (some
# 40 ms of a core). Per address, so that guesses from elsewhere do not lock a client out:
# behind a proxy that holds only if the gateway believes its X-Forwarded-For
# (`forwarded_allow_ips`), or every caller has the proxy's address.
TOKEN_ATTEMPTS_PER_SECOND = 2.0
TOKEN_ATTEMPTS_BURST = 20


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="credit"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
        return None
    return client_id, secret


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses={
        400: {"description": "unsupported grant or invalid scope"},
        401: {"description": '{"error": "invalid_client"}'},
        429: {"description": "rate_limited: too many attempts for this client id (Retry-After)"},
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
    client = await gateway.clients.authenticate(client_id, client_secret)
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
