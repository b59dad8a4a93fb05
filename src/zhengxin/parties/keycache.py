"""Who holds each API key, kept in this server process between requests (PostgreSQL only).

Every request authenticates, and most of what the cheap ones cost was that lookup: a trip
through the thread pool, a pooled connection and a join. A kept holder is served only after a
read of `key_holder_changes` that began after the request arrived still shows what was read
before the holder was (the trigger of migration 0011 writes the changing transaction's id
there on every UPDATE, DELETE or TRUNCATE of `api_keys` or `parties`, in that transaction).
So a key revoked by a request that has been answered, on any server process, is refused by
the next request on every process. The read is one trivial statement on an asynchronous
connection of this process's event loop, and the requests that arrive while one is waiting
to start share it. When that connection is down nothing is served from the cache. On SQLite
nothing is kept: the database is one machine's file and a lookup is a local read.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable

import psycopg
from sqlalchemy import Connection, select

from zhengxin.parties.tables import key_holder_changes
from zhengxin.runtime import Runtime

log = logging.getLogger("zhengxin")

MAX_ENTRIES = 100_000  # beyond that the cache starts over: keys in use are few, guessed ones are never kept
_LAST_CHANGE = "SELECT n FROM key_holder_changes WHERE id = 1"


class KeyCache:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._holders: dict[bytes, tuple[object, int | None]] = {}
        self._lock = threading.Lock()  # holders are stored from the thread pool
        self._conn: psycopg.AsyncConnection | None = None
        self._next_read: asyncio.Future | None = None  # a read not yet begun, that arrivals join
        self._down_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the connection belongs to

    @staticmethod
    def _slot(api_key: str) -> bytes:
        return hashlib.sha256(api_key.encode()).digest()  # the cache never holds a key itself

    async def get(self, api_key: str):
        """The kept holder of this key if nothing changed since it was read, else None."""
        kept = self._holders.get(self._slot(api_key))
        if kept is None:
            return None
        try:
            last_change = await self._last_change()
        except (psycopg.Error, OSError):
            return None  # unsure: the caller reads the database
        holder, read_after = kept
        if last_change != read_after:
            with self._lock:
                self._holders.clear()  # everything read before that change may be stale
            return None
        return holder

    def remember(self, api_key: str, authenticate: Callable[[Connection, str], object]):
        """The key's holder as `authenticate` reads it, kept with the last change read just
        before it on the same connection (a change in between makes it stale at its first use).
        Thread pool."""
        with self.runtime.reading() as conn:
            read_after = conn.execute(select(key_holder_changes.c.n).where(key_holder_changes.c.id == 1)).scalar()
            holder = authenticate(conn, api_key)
        if holder is not None:
            with self._lock:
                if len(self._holders) >= MAX_ENTRIES:
                    self._holders.clear()
                self._holders[self._slot(api_key)] = (holder, read_after)
        return holder

    async def _last_change(self) -> int | None:
        """The last change, read by a statement that begins after this call: join the read
        that has not begun yet, or make one."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new server loop (tests run several): start afresh in it
            self._loop, self._conn, self._next_read = loop, None, None
        if self._next_read is None:
            self._next_read = loop.create_future()
            asyncio.create_task(self._read(self._next_read))
        return await asyncio.shield(self._next_read)

    async def _read(self, result: asyncio.Future) -> None:
        self._next_read = None  # from here on, arrivals need a read that begins after them
        try:
            if self._conn is None or self._conn.closed:
                if time.monotonic() < self._down_until:
                    raise OSError("the key cache's connection is down")
                url = self.runtime.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._conn = await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0)
            cursor = await self._conn.execute(_LAST_CHANGE)
            row = await cursor.fetchone()
            result.set_result(row[0] if row else None)
        except (psycopg.Error, OSError) as e:
            self._down_until = time.monotonic() + 1.0
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            result.set_exception(e)
            result.exception()  # retrieved here: no "never retrieved" warning when nobody waits

    async def close(self) -> None:
        """At the server's shutdown, in its loop."""
        if self._conn is not None and self._loop is asyncio.get_running_loop():
            await self._conn.close()
            self._conn = None


def key_cache(runtime: Runtime) -> KeyCache | None:
    """This process's key cache, or None on SQLite."""
    if runtime.engine.dialect.name != "postgresql":
        return None
    return runtime.kept(KeyCache, lambda: KeyCache(runtime))
