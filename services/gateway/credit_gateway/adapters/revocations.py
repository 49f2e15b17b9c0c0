"""Client revocations told to every gateway replica through Redis pub/sub, so that the
short client cache of each (Clients.current) is cleared at once."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from credit_gateway.service_layer.clients import Clients

log = logging.getLogger(__name__)

CHANNEL = "credit:gateway:client-revoked"


class RevocationNotices:
    def __init__(self, redis: Redis, clients: Clients) -> None:
        self.redis = redis
        self.clients = clients

    async def publish(self, client_id: str) -> None:
        """Best effort: a replica that misses it reads the client again within
        client_cache_seconds."""
        try:
            await self.redis.publish(CHANNEL, client_id)
        except Exception:
            log.warning(
                "could not tell the other replicas that %s was revoked; their caches expire "
                "within %s s",
                client_id,
                self.clients.cache_seconds,
                exc_info=True,
            )

    async def listen(self, stop: asyncio.Event) -> None:
        """Clears the revoked clients as notices arrive; after a lost subscription, the
        whole cache (a notice may have been missed)."""
        while not stop.is_set():
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.clients.forget_all()
                    while not stop.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=0.5
                        )
                        if message is not None:
                            data = message["data"]
                            self.clients.forget(
                                data.decode() if isinstance(data, bytes) else str(data)
                            )
            except Exception:
                self.clients.forget_all()
                log.warning("revocation notices: subscription lost; retrying", exc_info=True)
                await asyncio.sleep(1.0)
