"""Rate limits per API key and per client address: token buckets, kept in Redis when the
deployment names one (so every API node shares them), in this process otherwise.

A request takes one token from its address's bucket and, if it carries a bearer key, one
from the key's; an empty bucket is 429 problem+json with Retry-After. Keys are bucketed by a
hash of the key, never the key itself."""

from __future__ import annotations

import hashlib
import logging
import math
import time

from prometheus_client import Counter, Gauge

from zhengxin.kit.errors import Problem
from zhengxin.kit.http import problem_response

log = logging.getLogger("zhengxin")

LIMITED = Counter("zhengxin_rate_limited_total", "Requests refused 429 by rate limit", ["scope"])
CONFIGURED = Gauge("zhengxin_rate_limit", "Configured rate limits", ["scope", "parameter"])

# KEYS[1]: the bucket; ARGV: rate per second, burst. Returns {allowed, seconds to wait}.
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(wait)}
"""


class LocalBuckets:
    def __init__(self):
        self.buckets: dict[str, tuple[float, float]] = {}

    async def take(self, name: str, rate: float, burst: int) -> float:
        """0 when a token was taken, else the seconds until one is due."""
        now = time.monotonic()
        tokens, at = self.buckets.get(name, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if len(self.buckets) > 100_000:  # forget idle buckets (a full bucket is the default)
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < burst / rate}
        if tokens >= 1:
            self.buckets[name] = (tokens - 1, now)
            return 0.0
        self.buckets[name] = (tokens, now)
        return (1 - tokens) / rate


class RedisBuckets:
    def __init__(self, url: str):
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.script = self.client.register_script(_BUCKET)
        self.fallback = LocalBuckets()

    async def take(self, name: str, rate: float, burst: int) -> float:
        try:
            allowed, wait = await self.script(keys=[f"zhengxin:rl:{name}"], args=[rate, burst])
        except Exception:  # noqa: BLE001 - Redis down: keep limiting, in this process alone
            log.warning("rate limits: Redis unreachable, limiting in this process")
            return await self.fallback.take(name, rate, burst)
        return 0.0 if int(allowed) else float(wait)


class RateLimit:
    """The ASGI middleware."""

    def __init__(self, app, settings):
        self.app = app
        self.limits = settings.rate_limits
        self.buckets = RedisBuckets(self.limits.redis_url) if self.limits.redis_url else LocalBuckets()
        for scope, rate, burst in (
            ("key", self.limits.per_key_per_second, self.limits.per_key_burst),
            ("address", self.limits.per_address_per_second, self.limits.per_address_burst),
        ):
            CONFIGURED.labels(scope, "per_second").set(rate)
            CONFIGURED.labels(scope, "burst").set(burst)  # fmt: skip

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.limits.enabled:
            return await self.app(scope, receive, send)
        limits = self.limits
        address = (scope.get("client") or ("-",))[0]
        wait = await self.buckets.take(f"a:{address}", limits.per_address_per_second, limits.per_address_burst)
        which = "address"
        if not wait:
            auth = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            if auth is not None:
                name = "k:" + hashlib.sha256(auth).hexdigest()[:32]
                wait = await self.buckets.take(name, limits.per_key_per_second, limits.per_key_burst)
                which = "key"
        if not wait:
            return await self.app(scope, receive, send)
        LIMITED.labels(which).inc()
        response = problem_response(
            Problem(429, "rate_limited", f"too many requests from this {which}; try again after Retry-After seconds")
        )
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        await response(scope, receive, send)
