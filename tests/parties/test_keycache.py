"""The key cache (parties.keycache): on PostgreSQL a holder is kept after its first lookup and
served while no key or party changed since; any change (a revocation here, from another
process as much as this one) makes it stale at once; a change between reading the last change
and the holder makes the holder stale too; on SQLite nothing is kept."""

from __future__ import annotations

import asyncio

from zhengxin.parties import service
from zhengxin.parties.keycache import key_cache


def _counting():
    calls = []

    def authenticate(conn, api_key):
        calls.append(api_key)
        return service.authenticate(conn, api_key)

    return authenticate, calls


def test_a_holder_is_served_until_a_change_and_never_after(runtime, parties):
    row, headers = parties.add("lender")
    _, other = parties.add("lender")
    api_key = headers["Authorization"].removeprefix("Bearer ")
    other_key = other["Authorization"].removeprefix("Bearer ")
    cache = key_cache(runtime)
    if runtime.engine.dialect.name == "sqlite":
        assert cache is None
        return

    async def scenario():
        authenticate, calls = _counting()
        assert await cache.get(api_key) is None
        assert cache.remember(api_key, authenticate).party_id == row["id"]
        assert cache.remember(other_key, authenticate) is not None
        kept = await asyncio.gather(*(cache.get(api_key) for _ in range(20)))  # one read serves them all
        assert {a.party_id for a in kept} == {row["id"]} and len(calls) == 2
        with runtime.transaction() as conn:  # what a revocation on any server process commits
            assert service.revoke_key(conn, service.key_id_of(other_key))
        assert await cache.get(api_key) is None  # stale: a change came after it was read
        assert await cache.get(other_key) is None
        assert cache.remember(other_key, authenticate) is None  # and the database refuses it
        assert cache.remember(api_key, authenticate).party_id == row["id"]
        assert (await cache.get(api_key)).party_id == row["id"]
        await cache.close()

    asyncio.run(scenario())


def test_a_change_between_the_two_reads_makes_the_holder_stale(runtime, parties):
    _, headers = parties.add("lender")
    _, other = parties.add("lender")
    api_key = headers["Authorization"].removeprefix("Bearer ")
    cache = key_cache(runtime)
    if cache is None:
        return
    authenticate, _ = _counting()

    def changed_meanwhile(conn, key):
        with runtime.transaction() as writer:
            service.revoke_key(writer, service.key_id_of(other["Authorization"].removeprefix("Bearer ")))
        return authenticate(conn, key)

    async def scenario():
        assert cache.remember(api_key, changed_meanwhile) is not None
        assert await cache.get(api_key) is None
        await cache.close()

    asyncio.run(scenario())
