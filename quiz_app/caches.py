"""Every per-process cache of the app, behind one object and one lock.

Two kinds of entries:

- *content* (the current contest, contests by id, the drawing pool) can be
  changed by organizers. They are dropped whenever the database's content
  epoch (table ``cache_epoch``) moved; each process reads the epoch at most
  every ``EPOCH_CHECK_S`` seconds, so an edit committed by any process on any
  host reaches all of them within a few seconds, without a restart.
- *immutable* entries (question revisions' texts, attempt layouts) never
  change once written, so they need no invalidation, only a bound.

Loaders run outside the lock (a slow query never blocks other threads'
lookups); only the dictionary operations are locked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import LRUCache, TTLCache
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from .extensions import db
from .models import CacheEpoch

T = TypeVar("T")

#: how often a process compares the content epoch with the database, seconds
EPOCH_CHECK_S = 2.0
#: a content entry lives at most this long even if no epoch change is seen
CONTENT_TTL_S = 60.0
CONTENT_EPOCH = "content"

_MISSING = object()


class ProcessCache:
    """Bounded caches of one process, with cross-process invalidation."""

    def __init__(
        self,
        *,
        content_size: int = 256,
        texts_size: int = 20_000,
        layouts_size: int = 50_000,
    ) -> None:
        self._lock = threading.Lock()
        self._content: TTLCache = TTLCache(content_size, CONTENT_TTL_S)
        self._immutable: dict[str, LRUCache] = {
            "texts": LRUCache(texts_size),
            "layouts": LRUCache(layouts_size),
        }
        self._epoch: int | None = None
        self._next_check = 0.0

    # ------------------------------------------------------------ content

    def content(self, key: Hashable, loader: Callable[[], T]) -> T:
        """A content entry, loaded by `loader` when missing or invalidated."""
        self._check_epoch()
        with self._lock:
            value = self._content.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        epoch = self._epoch
        value = loader()
        with self._lock:
            if self._epoch == epoch:  # not invalidated while loading
                self._content[key] = value
        return value

    def peek_content(self, key: Hashable) -> Any:
        """A content entry if cached (no load, no epoch check), else None."""
        with self._lock:
            return self._content.get(key)

    def _check_epoch(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        with self._lock:
            if now < self._next_check:
                return
            # Other threads keep using the current entries while one checks.
            self._next_check = now + EPOCH_CHECK_S
        current = db.session.scalar(
            select(CacheEpoch.value).where(CacheEpoch.name == CONTENT_EPOCH)
        )
        with self._lock:
            if current != self._epoch:
                self._content.clear()
                self._epoch = current

    # ------------------------------------------------------------ immutable

    def get_many(
        self, kind: str, keys: list[Hashable], loader: Callable[[list], dict]
    ) -> dict:
        """Immutable entries of `kind` for `keys`; `loader(missing)` returns
        {key: value} for the ones not cached."""
        cache = self._immutable[kind]
        found: dict = {}
        with self._lock:
            for key in keys:
                value = cache.get(key, _MISSING)
                if value is not _MISSING:
                    found[key] = value
        missing = [k for k in keys if k not in found]
        if missing:
            loaded = loader(missing)
            with self._lock:
                for key, value in loaded.items():
                    cache[key] = value
            found.update(loaded)
        return found

    def get(self, kind: str, key: Hashable, loader: Callable[[], T | None]) -> T | None:
        """One immutable entry; a loader result of None is not cached."""
        cache = self._immutable[kind]
        with self._lock:
            value = cache.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        value = loader()
        if value is not None:
            with self._lock:
                cache[key] = value
        return value

    # ------------------------------------------------------------ control

    def invalidate_content(self) -> None:
        """Drop this process's content entries now (the editing process)."""
        with self._lock:
            self._content.clear()
            self._epoch = None
            self._next_check = 0.0

    def clear(self) -> None:
        """Forget everything (tests, CLI after bulk changes)."""
        with self._lock:
            self._content.clear()
            for cache in self._immutable.values():
                cache.clear()
            self._epoch = None
            self._next_check = 0.0


#: the one cache of this process
cache = ProcessCache()


def bump_content_epoch() -> None:
    """Mark content as changed for every process (flush only: the caller's
    commit publishes it). This process drops its own copy when that commit
    succeeds (see _after_commit), the others at their next epoch check."""
    moved = db.session.execute(
        update(CacheEpoch)
        .where(CacheEpoch.name == CONTENT_EPOCH)
        .values(value=CacheEpoch.value + 1)
    ).rowcount
    if not moved:
        db.session.add(CacheEpoch(name=CONTENT_EPOCH, value=1))
    db.session.flush()
    db.session.info["content_changed"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("content_changed", False):
        cache.invalidate_content()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("content_changed", None)
