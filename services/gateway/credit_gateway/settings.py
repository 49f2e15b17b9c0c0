"""The gateway's settings, read from CREDIT_GATEWAY_* variables."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from credit_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDIT_GATEWAY_", extra="ignore", populate_by_name=True
    )

    service_name: str = "gateway"
    # Redis for rate limits, Idempotency-Key replays and client revocation notices to the
    # other replicas (`redis://…` or `unix://…`); empty: none of these.
    redis_url: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The proxies whose X-Forwarded-For names the caller (uvicorn's forwarded_allow_ips:
    # addresses or networks, comma-separated). Behind an ingress or load balancer, name its
    # addresses here: else every caller has its address, and the per-address limits
    # (anonymous reads, token attempts) count them all as one. Never * where callers reach
    # the gateway directly: each would name its own address.
    forwarded_allow_ips: str = "127.0.0.1"
    issuer: str = "credit-platform-gateway"
    audience: str = "credit-platform"
    token_ttl_seconds: int = 300
    registry_address: str = "127.0.0.1:50051"
    records_address: str = "127.0.0.1:50052"
    lists_address: str = "127.0.0.1:50053"
    objections_address: str = "127.0.0.1:50054"
    # A verified token's client is read again from the database after this long; revoking
    # a client clears it at once here and, through Redis, in the other replicas.
    client_cache_seconds: float = 5.0
    # Every backend call carries this deadline; a backend that misses it is a 503.
    backend_deadline_seconds: float = 2.0
    max_body_bytes: int = 4 * 1024 * 1024
    # Load shedding: past this many requests in progress at once, a request waits for one
    # to finish, then gets 503 (service "gateway", with Retry-After) rather than queueing
    # behind work whose callers would give up. Health, readiness and metrics are never
    # held back. 0: no limit.
    max_in_flight: int = 128
    # How long a request past max_in_flight waits for a place before its 503.
    in_flight_wait_seconds: float = 1.0
    # Token buckets per client (Redis; off without a Redis URL). A client may have its own.
    rate_limit_per_second: float = 50.0
    # Requests a client may make at once before its bucket empties.
    rate_limit_burst: int = 100
    # A replica takes this many seconds' worth of a client's tokens from Redis at once (at
    # most a tenth of its burst) and spends them without asking Redis again; a client is
    # never let through past its bucket, but may be refused up to a lease's worth early.
    # 0: one Redis call per request.
    rate_limit_lease_seconds: float = 0.1
    # Callers without a token share a bucket per address.
    anonymous_rate_limit_per_second: float = 20.0
    # Requests an address may make at once without a token.
    anonymous_rate_limit_burst: int = 40
    # Public-level answers (subject, records, lists, report) are kept in Redis at most this
    # long; any event about the subject drops them at once. 0: no cache.
    public_cache_seconds: float = 30.0
    # How long an Idempotency-Key's first answer is kept for replays (creating POSTs only:
    # validate and the restriction check are reads and run, audited, every time; an answer
    # marked `Cache-Control: no-store`, one showing a natural person's identity number in
    # full, is not kept, and its replays are 409 `idempotency_answer_not_kept`).
    idempotency_ttl_seconds: int = 86_400
    # Query audit entries that may wait unwritten (the gateway's database refusing them)
    # before reads of credit information are refused with 503 (service "database") until
    # they are written: never answered unaudited past this, nor held without bound.
    audit_max_backlog: int = 200_000
    # Bulk uploads are streamed; past this size the upload is refused (413).
    bulk_max_bytes: int = 1024 * 1024 * 1024
    bulk_deadline_seconds: float = 3600.0
    bulk_chunk_rows: int = 2000
    # Rows go to the records service in chunks of at most bulk_chunk_rows rows and this
    # many bytes encoded (64 KiB to 32 MiB), well within the 64 MiB a gRPC message to it
    # may hold; a row larger than this on its own is rejected, by its row number, unsent.
    bulk_chunk_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=32 * 1024 * 1024)
    max_batch: int = 10_000
    admin_client_id: str = Field(
        default="",
        validation_alias=AliasChoices("CREDIT_ADMIN_CLIENT_ID", "CREDIT_GATEWAY_ADMIN_CLIENT_ID"),
    )
    admin_client_secret: str = Field(
        default="",
        validation_alias=AliasChoices(
            "CREDIT_ADMIN_CLIENT_SECRET", "CREDIT_GATEWAY_ADMIN_CLIENT_SECRET"
        ),
    )
