"""POST /v1/records/bulk: a department's file streamed to the records service."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from credit.records.v1 import records_pb2 as rec
from credit_common.ingest.chunks import Chunks, encoded_size
from credit_common.ingest.csv_reader import read_csv
from credit_common.ingest.ndjson_reader import read_ndjson
from credit_common.ingest.rows import (
    Detected,
    HeaderError,
    IngestError,
    ItemRequired,
    ParsedRow,
    TooLarge,
    UnreadableSpreadsheet,
)
from credit_common.ingest.spool import spool_to_file
from credit_common.ingest.xlsx_reader import read_xlsx
from credit_gateway.adapters.backends import RecordsClient
from credit_gateway.bootstrap import Gateway
from credit_gateway.domain.access import Caller
from credit_gateway.entrypoints import schemas
from credit_gateway.entrypoints.deps import GatewayDep, require
from credit_gateway.entrypoints.problems import Problem

router = APIRouter(tags=["records"])
WriterDep = Annotated[Caller, require("records:write")]

NDJSON = {"application/x-ndjson", "application/ndjson", "application/jsonl"}
CSV = {"text/csv", "application/csv"}
XLSX = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
BODY = {
    "required": True,
    "content": {
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "one JSON object a line"}
        },
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "header row of field names or national codes",
            }
        },
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        },
    },
}


async def _in_thread(rows: Iterator[ParsedRow], batch: int = 1000) -> AsyncIterator[ParsedRow]:
    """A blocking reader iterated in a worker thread, a batch at a time."""
    while True:
        taken = await run_in_threadpool(lambda: list(itertools.islice(rows, batch)))
        if not taken:
            return
        for parsed in taken:
            yield parsed


async def _ingest(
    records: RecordsClient, messages: AsyncIterator[rec.IngestRecordsRequest]
) -> rec.IngestRecordsResponse:
    """Streams the messages to the records service. gRPC swallows an exception raised
    while it reads them and cancels the call instead (so an atomic load stores nothing):
    that exception is raised here in place of the cancellation, so that a reader failing
    mid-stream gets the answer it would have got before the stream opened."""
    failed: list[Exception] = []

    async def watched() -> AsyncIterator[rec.IngestRecordsRequest]:
        try:
            async for message in messages:
                yield message
        except Exception as error:
            failed.append(error)
            raise

    try:
        return await records.ingest(watched())
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if failed and not (task is not None and task.cancelling()):
            raise failed[0] from None
        raise


def _unreadable(error: IngestError, code: str, detail: str, field: str) -> Problem:
    """A 422 for an upload that cannot be read as rows, each of the reader's problems
    named under `field`."""
    return Problem(422, code, detail, [{"field": field, "message": p} for p in error.problems])


def _ingest_row(parsed: ParsedRow, item_code: str) -> rec.IngestRow:
    if parsed.row is None:
        return rec.IngestRow(
            row=parsed.number,
            item_code=item_code,
            parse_errors=[rec.RowError(field="row", message=e) for e in parsed.errors],
        )
    row = parsed.row
    return rec.IngestRow(
        row=parsed.number,
        subject_code=row.subject_code,
        item_code=item_code,
        source_ref=row.source_ref,
        decided_on=row.decided_on,
        fields_json=json.dumps(row.fields, ensure_ascii=False),
        parse_errors=[rec.RowError(field="row", message=e) for e in parsed.errors],
        text_cells=row.text_cells,
    )


def _sized_row(
    parsed: ParsedRow, item_code: str, chunks: Chunks[rec.IngestRow]
) -> tuple[rec.IngestRow, int]:
    """A row as sent on, and its size: one too large for any chunk is sent as its error
    alone (a gRPC message to the records service holds at most 64 MiB)."""
    row = _ingest_row(parsed, item_code)
    size = encoded_size(row)
    if chunks.fits(size):
        return row, size
    message = (
        f"the row is {size} bytes once encoded, more than the {chunks.max_bytes} bytes"
        " a chunk of rows sent on to be stored may hold: it was not sent"
    )
    refused = rec.IngestRow(
        row=parsed.number,
        item_code=item_code,
        parse_errors=[rec.RowError(field="row", message=message)],
    )
    return refused, encoded_size(refused)


async def _writable_item(gateway: Gateway, caller: Caller, item_code: str) -> None:
    """Refuses an upload whose item a single record of it would be refused for, as that
    record is (rather than a 200 rejecting every row): 422 unknown_item for an item the
    catalog does not hold, 403 department_mismatch for one the caller's department is no
    source of (`*`: any department is)."""
    item = await gateway.records.item(item_code)
    if item is None:
        raise Problem(
            422,
            "unknown_item",
            "the upload was not accepted",
            [{"field": "item_code", "message": f"unknown catalog item {item_code!r}"}],
        )
    if not {"*", caller.department} & set(item.source_departments):
        raise Problem(
            403, "department_mismatch", f"{caller.department} is not a source of {item_code}"
        )


@router.post(
    "/v1/records/bulk",
    response_model=schemas.BulkResult,
    openapi_extra={"requestBody": BODY},
    responses={
        413: {
            "description": "payload_too_large, with `stored_nothing`; when it is false (the"
            " limit was passed after rows were stored, never with `atomic`), also `rows_read`"
            " and the result's `accepted`, `unchanged`, `rejected_count` and `rejected` for"
            " the rows up to it"
        },
        403: {
            "description": "department_mismatch: the caller's department is no source of the item"
        },
        415: {"description": "unsupported_media_type"},
        422: {
            "description": "invalid_header, invalid_spreadsheet (an .xlsx upload that is not"
            " a readable workbook), item_required, unknown_item or empty_upload"
        },
    },
)
async def bulk(
    request: Request,
    caller: WriterDep,
    gateway: GatewayDep,
    item_code: Annotated[
        str,
        Query(
            max_length=64,
            description="the catalog item; when absent, read from a CSV/XLSX header's national "
            "codes or its item_code column (the first row's), or from the first NDJSON "
            "line's item_code; a row naming another item is that row's error",
        ),
    ] = "",
    atomic: Annotated[bool, Query(description="store nothing if any row is rejected")] = False,
) -> schemas.BulkResult:
    """Ingests NDJSON, CSV or XLSX, streamed: each row is checked on its own; the answer
    counts accepted, unchanged and rejected rows, naming each rejected row and why (in row
    order). An item the caller may not write (unknown, or not of its department) refuses
    the upload whole, once the item is known, as it refuses a single record.

    Rows are numbered from 1 after the header, blank lines and rows whose cells are all
    empty not counted. An Idempotency-Key is not kept for this route (the upload is
    streamed, not held): sending the same rows again is safe as it is, each row already
    stored answering as `unchanged`."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    detected = Detected(item_code or None)
    spooled: Path | None = None
    try:
        if media in NDJSON | CSV | XLSX and item_code:
            await _writable_item(gateway, caller, item_code)
        if media in NDJSON:
            rows: AsyncIterator[ParsedRow] = read_ndjson(
                request.stream(), item_code or None, detected
            )
        elif media in CSV:
            rows = read_csv(request.stream(), item_code or None, detected)
        elif media in XLSX:
            spooled = await spool_to_file(
                request.stream(),
                Path(tempfile.gettempdir()),
                gateway.settings.bulk_max_bytes,
                suffix=".xlsx",
            )
            rows = _in_thread(read_xlsx(spooled, item_code or None, detected=detected))
        else:
            raise Problem(
                415,
                "unsupported_media_type",
                "send application/x-ndjson, text/csv or an .xlsx spreadsheet",
            )
        first = await anext(rows, None)
        if first is None:
            raise Problem(
                422,
                "empty_upload",
                "the upload has no data rows",
                [{"field": "body", "message": "no data rows"}],
            )

        # Named, or read from the header or the first NDJSON line that could be read (an
        # overlong line before it is a row's error, sent before the item is known).
        def item() -> str:
            return detected.item_code or item_code

        checked = {item_code}  # the items found writable ("": none named yet)

        async def check_item() -> None:
            """The upload's item, once known, checked before any row of it is sent (an
            NDJSON upload whose first lines are no JSON names it late)."""
            if item() not in checked:
                await _writable_item(gateway, caller, item())
                checked.add(item())

        await check_item()
        chunks: Chunks[rec.IngestRow] = Chunks(
            gateway.settings.bulk_chunk_rows, gateway.settings.bulk_chunk_bytes
        )
        read = [first.number]  # the last row read
        cut: list[Problem] = []  # the body's limit, reached once rows were stored
        unstored = _Unstored()
        unstored.note(first)

        async def messages() -> AsyncIterator[rec.IngestRecordsRequest]:
            yield rec.IngestRecordsRequest(
                options=rec.IngestOptions(
                    caller=rec.Caller(client_id=caller.client_id, department=caller.department),
                    atomic=atomic,
                )
            )
            for batch in chunks.add(*_sized_row(first, item(), chunks)):
                yield rec.IngestRecordsRequest(rows=rec.IngestRows(rows=batch))
            try:
                async for parsed in rows:
                    read[0] = parsed.number
                    unstored.note(parsed)
                    await check_item()
                    for batch in chunks.add(*_sized_row(parsed, item(), chunks)):
                        yield rec.IngestRecordsRequest(rows=rec.IngestRows(rows=batch))
            except Problem as error:
                # An atomic load is cancelled (it stores nothing); the independent rows
                # of any other are stored up to the last one read whole, and the answer
                # says so.
                if atomic or error.status != 413:
                    raise
                cut.append(error)
            if last := chunks.take():
                yield rec.IngestRecordsRequest(rows=rec.IngestRows(rows=last))

        reply = await _ingest(gateway.records, messages())
        if cut:
            raise _cut_short(
                _result(reply, unstored), read[0], gateway.settings.bulk_max_bytes
            ) from cut[0]
    except UnreadableSpreadsheet as error:
        raise _unreadable(
            error,
            "invalid_spreadsheet",
            "the upload cannot be read as an .xlsx spreadsheet",
            "body",
        ) from error
    except ItemRequired as error:
        raise _unreadable(
            error, "item_required", "the upload names no catalog item", "item_code"
        ) from error
    except HeaderError as error:
        raise _unreadable(
            error, "invalid_header", "the header row is not what the item needs", "header"
        ) from error
    except TooLarge as error:
        raise Problem(
            413,
            "payload_too_large",
            f"the upload exceeds {error.limit_bytes} bytes",
            stored_nothing=True,
        ) from error
    except Problem as error:
        if error.status == 413 and not error.extra:
            error.extra["stored_nothing"] = True
        raise
    finally:
        if spooled is not None:
            with contextlib.suppress(OSError):
                spooled.unlink()
    return _result(reply, unstored)


class _Unstored:
    """The descriptive columns rows held (subject name, legal representative, remarks,
    data source...: a row's `extra`), which are read but not stored: the answer names
    them, up to a hundred, so that no value goes unmentioned."""

    LIMIT = 100

    def __init__(self) -> None:
        self.names: set[str] = set()

    def note(self, parsed: ParsedRow) -> None:
        if parsed.row is not None and parsed.row.extra and len(self.names) < self.LIMIT:
            self.names.update(parsed.row.extra)

    def shown(self) -> list[str]:
        return sorted(self.names)[: self.LIMIT]


def _result(reply: rec.IngestRecordsResponse, unstored: _Unstored) -> schemas.BulkResult:
    return schemas.BulkResult(
        accepted=reply.accepted,
        unchanged=reply.unchanged,
        rejected_count=reply.rejected_count,
        atomic=reply.atomic,
        stored_nothing=reply.rolled_back,
        rejected=[
            schemas.RejectedRowPublic(
                row=r.row,
                errors=[schemas.RowErrorPublic(field=e.field, message=e.message) for e in r.errors],
            )
            for r in sorted(reply.rejected, key=lambda r: r.row)
        ],
        columns_not_stored=unstored.shown(),
    )


def _cut_short(result: schemas.BulkResult, last_row: int, limit: int) -> Problem:
    """A 413 for a load whose body passed the limit after some of its independent rows
    were stored: it tells what was stored, up to which row, as the 200 answer would."""
    return Problem(
        413,
        "payload_too_large",
        f"the upload exceeds {limit} bytes. Rows are independent: those up to row"
        f" {last_row} were read and are answered here ({result.accepted} stored,"
        f" {result.unchanged} unchanged, {result.rejected_count} rejected); the rest was"
        " not read. Send the rest; a row sent again answers unchanged.",
        rows_read=last_row,
        **result.model_dump(mode="json"),
    )
