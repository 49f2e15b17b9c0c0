"""The records service as the lists service sees it: whose record is this, and does it
still stand?"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from credit.records.v1 import records_pb2 as rec
from credit.records.v1 import records_pb2_grpc as rec_grpc
from credit_common.grpc_client import Backend
from credit_common.grpc_errors import RemoteError


class RecordBasis(NamedTuple):
    """What a listing needs to know of a basis record."""

    subject_id: uuid.UUID
    # active | corrected | withdrawn | expired, as of now (records.proto, Record.status)
    status: str


class RecordsClient(Backend):
    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("records", address, deadline)

    async def basis(self, record_id: str) -> RecordBasis | None:
        """The subject a record belongs to and its status now, or None when there is no
        such record. The restricted level sees withdrawn records too: the caller must
        look at the status."""
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
        return RecordBasis(uuid.UUID(record.subject_id), record.status)
