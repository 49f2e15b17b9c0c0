"""The records service as the lists service sees it: whose record is this?"""

from __future__ import annotations

import uuid

from credit.records.v1 import records_pb2 as rec
from credit.records.v1 import records_pb2_grpc as rec_grpc
from credit_common.grpc_client import Backend
from credit_common.grpc_errors import RemoteError


class RecordsClient(Backend):
    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("records", address, deadline)

    async def owner(self, record_id: str) -> uuid.UUID | None:
        """The subject a record belongs to, or None when there is no such record."""
        try:
            record = await self.call(
                self.stub(rec_grpc.RecordsServiceStub).GetRecord,
                rec.GetRecordRequest(record_id=record_id, level=rec.LEVEL_RESTRICTED),
                idempotent=True,
            )
        except RemoteError as error:
            if error.reason in ("not_found", "invalid_argument"):
                return None
            raise
        return uuid.UUID(record.subject_id)
