"""In-process limits and short-lived memory (one service process; see the README)."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Seconds to wait if ``key`` is over its limit now, else ``None`` (nothing recorded)."""
        with self._lock:
            events = self._trim(key, time.monotonic())
            if len(events) < self.limit:
                return None
            return max(1, math.ceil(events[0] + self.window - time.monotonic()))

    def hit(self, key: str) -> int | None:
        """Record one event; return seconds to wait if that went over the limit."""
        with self._lock:
            now = time.monotonic()
            events = self._trim(key, now)
            if len(events) >= self.limit:
                return max(1, math.ceil(events[0] + self.window - now))
            events.append(now)
            return None

    def _trim(self, key: str, now: float) -> deque[float]:
        events = self._events[key]
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(self._events) > 10_000:  # forget quiet keys so the table cannot grow without bound
            for quiet in [k for k, v in self._events.items() if not v and k != key]:
                del self._events[quiet]
        return events


class SignInLimits:
    """Failed sign-ins, limited so that the people with a valid token are never locked out.

    Each presented token is counted per client address (``per_token``: the same wrong token
    from the same address, a misconfigured script, is refused before its lookup). The address
    as a whole has a much higher limit (``per_address``) that only ever turns a *failed*
    attempt's 401 into a 429: a valid token is looked up and let in whatever its neighbours
    behind the same NAT got wrong. Guessing a 256-bit token is hopeless, so the address limit
    is there to slow scripts and keep the audit log readable, not to stop guessing.
    """

    def __init__(self, per_token: int, per_address: int, window: float) -> None:
        self.per_token = RateLimiter(per_token, window)
        self.per_address = RateLimiter(per_address, window)

    @staticmethod
    def _key(address: str, fingerprint: str) -> str:
        return f"{address} {fingerprint[:16]}"

    def retry_after(self, address: str, fingerprint: str) -> int | None:
        """Seconds to wait before this token may be tried again from this address, else None."""
        return self.per_token.retry_after(self._key(address, fingerprint))

    def failed(self, address: str, fingerprint: str) -> int | None:
        """Count one failure; seconds to wait when this token or this address is now over its limit."""
        token_wait = self.per_token.hit(self._key(address, fingerprint))
        address_wait = self.per_address.hit(address)
        waits = [w for w in (token_wait, address_wait) if w is not None]
        return max(waits) if waits else None


class PrincipalCache:
    """Token → principal for ``ttl`` seconds (0 turns it off).

    A revoked token keeps working here for at most ``ttl`` seconds in other
    processes; this process forgets everything at once when a token is revoked.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self.generation = 0  # bumped by clear(): a lookup started before it must not be stored

    def get(self, key: str):
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[1]

    def put(self, key: str, value: object, generation: int | None = None) -> None:
        """Remember ``value``; ``generation`` (read before the lookup) drops it if a clear() came between."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1
