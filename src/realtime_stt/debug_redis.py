"""The debug buffers in Redis Streams, shared by every instance that names the same ``REDIS_URL``.

Layout: one stream per buffer, key ``realtime_stt:debug:<buffer>`` (use another database number
in the URL to separate deployments that share a Redis). Each stream entry has one field ``e``, the
JSON of the same entry :class:`~realtime_stt.debug_log.DebugLog` keeps in memory (``instance``
included). Needs Redis 6.2 or newer (exclusive ranges in ``XREVRANGE``).

Writing never touches the audio path: ``record_chunk`` and ``record_text`` build the entry and
``put_nowait`` it on a bounded in-process queue (call them from the app's event loop); a
background writer drains the queue in batches of pipelined ``XADD ... MAXLEN ~ N``. An entry is
dropped and counted in ``dropped``, never raised, when the queue is full (Redis slow), or while
Redis is unreachable: then ``health`` is ``"degraded"``, the failed batch and the queue are
discarded, and the writer probes with ``PING`` under exponential backoff until Redis answers, when
recording resumes. While healthy and idle the writer also pings every ``probe_interval_s`` so
``health`` notices an outage without traffic.

Reading: ``XREVRANGE`` from the newest entry, in pages, at most N entries in all (``MAXLEN ~``
trims lazily, so a stream may briefly hold a little more than N; reads never look past the newest
N, which keeps the ring bound exact). With ``session_id`` the pages are filtered here, so a
session's entries are found only while they are among the newest N of the buffer, exactly as in
memory. A read that fails raises :class:`~realtime_stt.debug_log.DebugStoreUnavailableError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from realtime_stt.audio import Int16Array
from realtime_stt.debug_log import (
    BUFFER_PATHS,
    BufferName,
    DebugStoreUnavailableError,
    StoreHealth,
    chunk_entry,
    text_entry,
)

log = logging.getLogger(__name__)
KEY_PREFIX = "realtime_stt:debug:"
FIELD = "e"
_FIELD_BYTES = FIELD.encode()
Queued = tuple[BufferName, dict[str, Any]]


class RedisDebugLog:
    """The four debug buffers as capped Redis Streams, written in the background."""

    def __init__(
        self,
        url: str,
        size: int,
        instance: str,
        *,
        queue_size: int = 4096,
        batch_size: int = 256,
        page_size: int = 500,
        timeout_s: float = 1.0,
        probe_interval_s: float = 1.0,
        backoff_min_s: float = 0.1,
        backoff_max_s: float = 2.0,
        flush_timeout_s: float = 2.0,
    ) -> None:
        self.size = size
        self.instance = instance
        self._batch_size = batch_size
        self._page_size = page_size
        self._probe_interval_s = probe_interval_s
        self._backoff = (backoff_min_s, backoff_max_s)
        self._flush_timeout_s = flush_timeout_s
        # No client-side retries: the writer has its own backoff, and reads answer at once.
        self._client = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._queue: asyncio.Queue[Queued] = asyncio.Queue(queue_size)
        self._has_items = asyncio.Event()  # the writer waits on this, never inside Queue.get
        self._writer: asyncio.Task[None] | None = None
        self._down = False
        self._dropped = 0

    @property
    def health(self) -> StoreHealth:
        """``"degraded"`` while Redis is unreachable (entries are dropped), else ``"ok"``."""
        return "degraded" if self._down else "ok"

    @property
    def dropped(self) -> int:
        """Entries recorded but never written: queue full, or Redis unreachable."""
        return self._dropped

    @staticmethod
    def key(buffer: BufferName) -> str:
        """The stream key of one buffer (by its outside name, so versions share it)."""
        return KEY_PREFIX + BUFFER_PATHS[buffer]

    def record_chunk(
        self, buffer: BufferName, session_id: str, seq: int, samples: Int16Array, sample_rate: int
    ) -> None:
        """Queue one audio chunk's metadata and level; drops it (counted) rather than wait."""
        self._enqueue(buffer, chunk_entry(self.instance, session_id, seq, samples, sample_rate))

    def record_text(self, buffer: BufferName, session_id: str, payload: dict[str, Any]) -> None:
        """Queue one text event or message; drops it (counted) rather than wait."""
        self._enqueue(buffer, text_entry(self.instance, session_id, payload))

    def _enqueue(self, buffer: BufferName, entry: dict[str, Any]) -> None:
        if self._down:
            self._dropped += 1
            return
        try:
            self._queue.put_nowait((buffer, entry))
        except asyncio.QueueFull:
            self._dropped += 1
        else:
            self._has_items.set()

    async def read(
        self, buffer: BufferName, *, limit: int | None = None, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` of the newest N entries, oldest first, of one session if asked."""
        want = self.size if limit is None else min(limit, self.size)
        found: list[dict[str, Any]] = []  # newest first
        seen = 0
        upper = "+"
        try:
            while seen < self.size and len(found) < want:
                count = min(self._page_size, self.size - seen)
                if session_id is None:
                    count = min(count, want - len(found))
                page = await self._client.xrevrange(self.key(buffer), upper, "-", count) or []
                for entry_id, fields in page:
                    entry = _decode(None if fields is None else fields.get(_FIELD_BYTES))
                    if entry is not None and (
                        session_id is None or entry.get("session_id") == session_id
                    ):
                        found.append(entry)
                        if len(found) == want:
                            break
                    if entry_id is not None:
                        upper = "(" + _text(entry_id)
                seen += len(page)
                if len(page) < count:
                    break
        except (RedisError, OSError) as exc:
            raise DebugStoreUnavailableError(f"redis: {exc}") from exc
        found.reverse()
        return found

    async def start(self) -> None:
        """Check Redis once (an outage only degrades) and start the background writer."""
        if not await self._ping():
            self._mark_down("no answer at start-up")
        self._writer = asyncio.create_task(self._run_writer(), name="debug-redis-writer")

    async def aclose(self) -> None:
        """Give queued entries up to ``flush_timeout_s`` to reach Redis, then disconnect."""
        if self._writer is not None:
            if not self._down:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._queue.join(), self._flush_timeout_s)
            self._writer.cancel()
            with suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self._client.aclose()

    async def _run_writer(self) -> None:
        backoff = self._backoff[0]
        while True:
            if self._down:
                await asyncio.sleep(backoff)
                if await self._ping():
                    self._down = False
                    backoff = self._backoff[0]
                    log.info("redis reachable again; %d debug entries dropped", self._dropped)
                else:
                    backoff = min(backoff * 2, self._backoff[1])
                continue
            if self._queue.empty():
                self._has_items.clear()
                try:
                    await asyncio.wait_for(self._has_items.wait(), self._probe_interval_s)
                except TimeoutError:
                    if not await self._ping():
                        self._mark_down("no answer to PING")
                    continue
            batch: list[Queued] = []
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            if not batch:
                continue
            try:
                await self._write(batch)
            except (RedisError, OSError) as exc:
                self._dropped += len(batch) + self._discard_queue()
                self._mark_down(str(exc))
            except Exception:  # a bad entry must not stop the writer
                self._dropped += len(batch)
                log.exception("debug entries could not be written")
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[Queued]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for buffer, entry in batch:
                fields: dict[FieldT, EncodableT] = {
                    FIELD: json.dumps(entry, separators=(",", ":"), default=str)
                }
                pipe.xadd(self.key(buffer), fields, maxlen=self.size, approximate=True)
            await pipe.execute()

    async def _ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    def _discard_queue(self) -> int:
        discarded = 0
        while True:
            try:
                self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return discarded
            self._queue.task_done()
            discarded += 1

    def _mark_down(self, reason: str) -> None:
        if not self._down:
            log.warning(
                "redis unreachable (%s); debug entries are dropped until it returns", reason
            )
        self._down = True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(raw: bytes | str | None) -> dict[str, Any] | None:
    """One stored entry, or ``None`` when it is missing or not a JSON object."""
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
