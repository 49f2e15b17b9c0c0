"""The gateway's clients of the backend services."""

from __future__ import annotations

from typing import Any

from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_common.grpc_client import Backend, BackendUnavailable

__all__ = ["Backend", "BackendUnavailable", "RegistryClient"]


class RegistryClient(Backend):
    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("registry", address, deadline)
        self._stub: pb_grpc.RegistryServiceStub | None = None
        self._stub_channel: Any = None

    @property
    def stub(self) -> pb_grpc.RegistryServiceStub:
        if self._stub is None or self._stub_channel is not self.channel:
            self._stub_channel = self.channel
            self._stub = pb_grpc.RegistryServiceStub(self._stub_channel)
        return self._stub

    async def validate(self, codes: list[str]) -> pb.ValidateCodesResponse:
        return await self.call(
            self.stub.ValidateCodes,
            pb.ValidateCodesRequest(codes=codes, check_registered=True),
            idempotent=True,
        )

    async def register(self, request: pb.RegisterSubjectRequest) -> pb.Subject:
        return await self.call(self.stub.RegisterSubject, request, idempotent=False)

    async def get(self, code: str) -> pb.Subject:
        return await self.call(
            self.stub.GetSubject, pb.GetSubjectRequest(code=code), idempotent=True
        )

    async def search(self, request: pb.SearchSubjectsRequest) -> pb.SearchSubjectsResponse:
        return await self.call(self.stub.SearchSubjects, request, idempotent=True)

    async def update(self, request: pb.UpdateSubjectRequest) -> pb.Subject:
        return await self.call(self.stub.UpdateSubject, request, idempotent=False)

    async def merge(self, request: pb.MergeSubjectRequest) -> pb.Subject:
        return await self.call(self.stub.MergeSubject, request, idempotent=False)
