"""In-process sliding-window rate limits (one service process; see the README)."""

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
