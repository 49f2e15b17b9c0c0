"""Admin routes for API clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Caller
from credit_gateway.entrypoints.deps import GatewayDep, require
from credit_gateway.entrypoints.problems import Problem
from credit_gateway.entrypoints.schemas import (
    ClientCreate,
    ClientCreated,
    ClientList,
    ClientPublic,
    RateLimit,
)
from credit_gateway.service_layer.clients import Client

router = APIRouter(prefix="/v1/admin", tags=["admin"])
AdminDep = Annotated[Caller, require("admin")]


def _public(client: Client) -> ClientPublic:
    return ClientPublic(
        client_id=client.client_id,
        name=client.name,
        department=client.department,
        scopes=sorted(client.scopes),
        subject_code=client.subject_code or None,
        rate_limit=(
            RateLimit(per_second=client.rate_per_second, burst=client.rate_burst)
            if client.rate_per_second is not None and client.rate_burst is not None
            else None
        ),
        created_at=client.created_at,
        revoked_at=client.revoked_at,
        active=client.active,
    )


@router.post("/clients", status_code=201, response_model=ClientCreated)
async def create_client(body: ClientCreate, caller: AdminDep, gateway: GatewayDep) -> ClientCreated:
    """Creates an API client; its secret is in this answer only. A `subject_code` must be
    a registered subject's (422 unknown_subject otherwise); the client is bound to the
    subject's code as the registry gives it (a legacy or merged code: the survivor's
    unified code)."""
    client, secret = await gateway.clients.create(
        name=body.name,
        department=body.department,
        scopes=body.scopes,
        subject_code=await _bound_code(gateway, (body.subject_code or "").strip().upper()),
        rate_per_second=body.rate_limit.per_second if body.rate_limit else None,
        rate_burst=body.rate_limit.burst if body.rate_limit else None,
        created_by=caller.client_id,
    )
    return ClientCreated(**_public(client).model_dump(), client_secret=secret)


async def _bound_code(gateway: Gateway, code: str) -> str:
    """The code a client for `code` is bound to: the registered subject's own."""
    if not code:
        return ""
    subject = await gateway.registry.find(code)
    if subject is None:
        message = "no registered subject answers to this code"
        raise Problem(
            422, "unknown_subject", message, [{"field": "subject_code", "message": message}]
        )
    return subject.code


@router.get("/clients", response_model=ClientList)
async def list_clients(_: AdminDep, gateway: GatewayDep) -> ClientList:
    return ClientList(items=[_public(c) for c in await gateway.clients.list()])


@router.delete("/clients/{client_id}", response_model=ClientPublic)
async def revoke_client(
    client_id: Annotated[str, Path(max_length=64)], _: AdminDep, gateway: GatewayDep
) -> ClientPublic:
    """Revokes a client: its tokens stop working at once."""
    return _public(await gateway.clients.revoke(client_id))
