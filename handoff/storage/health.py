"""Whether the database takes writes: storage failures told apart from bugs, and tracked.

A full disk, an I/O error, a read-only, locked or unreachable database is not a
bug in the server: a request that meets one is refused with
``storage_unavailable`` (HTTP 503, ``Retry-After``), and ``/healthz`` reports the
database failing until a write succeeds again. Genuine bugs (an SQL error, a
constraint violation, a programming error) stay ``internal_error``.

Every engine made by :func:`handoff.storage.db.make_engine` is watched: each
storage failure SQLAlchemy sees (in a request, a sweep, a checkpoint), and every
failure to connect, is raised as :class:`StorageUnavailable` (the driver's error
is its ``__cause__``), so that the code above, which cleans up after a
:class:`HandoffError`, cleans up after these too; and it is counted by the
engine's :class:`StorageHealth`, which logs the first of an episode, counts the
rest in ``handoff_storage_failures_total`` without logging them, and logs the
recovery once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import weakref
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import redis.exceptions
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.errors import StateUnavailable, StorageUnavailable
from handoff.metrics import STORAGE_FAILING, STORAGE_FAILURES

__all__ = [
    "PROBE",
    "StorageHealth",
    "check_storage",
    "failure_reason",
    "health_of",
    "storage_error",
    "unavailable_error",
    "watch",
]

log = logging.getLogger("handoff.storage")

# SQLite's primary result codes that say the storage, not the statement, failed.
_SQLITE_FAILURES = {
    5: "SQLITE_BUSY",  # still locked after the busy timeout
    6: "SQLITE_LOCKED",
    7: "SQLITE_NOMEM",
    8: "SQLITE_READONLY",
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    13: "SQLITE_FULL",
    14: "SQLITE_CANTOPEN",
    15: "SQLITE_PROTOCOL",
    26: "SQLITE_NOTADB",
}
# PostgreSQL SQLSTATE classes and codes of the same kind: connection exceptions,
# insufficient resources (disk full, out of memory, too many connections),
# operator intervention (admin shutdown, crash shutdown, cannot connect now,
# statement timeout), system errors (I/O), a read-only transaction (a read-only
# database, or a standby after a failover) and corrupted data.
_PG_CLASSES = frozenset({"08", "53", "57", "58"})
_PG_STATES = frozenset({"25006", "XX001", "XX002"})
# Modules whose frames show that an OSError came from talking to the database.
_DRIVERS = ("sqlalchemy.", "asyncpg", "aiosqlite")

PROBE = "UPDATE alembic_version SET version_num = version_num"
"""The write :func:`check_storage` tries while writes fail.

Every migrated database has exactly this one row; the update changes nothing,
yet it is a real write: a WAL frame (SQLite) or a new row version and its WAL
record (PostgreSQL), committed (and fsynced) like any other.
"""


def _from_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVERS):
            return True
        tb = tb.tb_next
    return False


def _reason(exc: BaseException) -> str | None:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _SQLITE_FAILURES:
            name = getattr(exc, "sqlite_errorname", None)
            return name if isinstance(name, str) else _SQLITE_FAILURES[code & 0xFF]
        return None
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        if state[:2] in _PG_CLASSES or state in _PG_STATES:
            return f"SQLSTATE {state}"
        return None
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "connection lost"
    if isinstance(exc, OSError) and _from_driver(exc.__traceback__):
        return type(exc).__name__  # ConnectionRefusedError, TimeoutError, gaierror...
    return None


def failure_reason(exc: BaseException) -> str | None:
    """A short name of the storage failure ``exc`` is, or None when it is anything else.

    E.g. ``SQLITE_FULL``, ``SQLITE_IOERR_WRITE``, ``SQLSTATE 53100`` (disk full),
    ``SQLSTATE 25006`` (read-only), ``ConnectionRefusedError``. Follows SQLAlchemy's
    wrapper to the driver's error (``orig``) and explicit causes, not implicit context.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = _reason(current)
        if reason is not None:
            return reason
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def _unavailable() -> StorageUnavailable:
    return StorageUnavailable("the database cannot store this right now; try again shortly")


def storage_error(exc: BaseException) -> StorageUnavailable | None:
    """``exc`` as the :class:`StorageUnavailable` a client gets; None if no storage failure.

    For errors that did not pass an engine's watch (which raises them as
    :class:`StorageUnavailable` already).
    """
    if isinstance(exc, StorageUnavailable):
        return exc
    if failure_reason(exc) is None:
        return None
    error = _unavailable()
    error.__cause__ = exc
    return error


def unavailable_error(exc: BaseException) -> StorageUnavailable | StateUnavailable | None:
    """What a client is told when a store is out: the database (:func:`storage_error`), or a
    Redis that cannot be reached (``state_unavailable``: nothing was done, send it again);
    None for any other error. The outage itself is logged by each store's health check."""
    storage = storage_error(exc)
    if storage is not None:
        return storage
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        error = StateUnavailable("the routing state cannot be reached right now; send it again")
        error.__cause__ = exc
        return error
    return None


def _driver_message(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement and parameters (user text)."""
    orig = getattr(exc, "orig", None)
    return str(orig if isinstance(orig, BaseException) else exc)[:300]


class StorageHealth:
    """Whether writes to one database work, as the last attempts found; logs once per episode.

    An episode begins with the first storage failure and ends with the first write
    that succeeds after it (a message batch, or the probe ``/healthz`` runs).
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.reason: str | None = None
        self.failures = 0
        self._since: float | None = None

    @property
    def failing(self) -> bool:
        return self._since is not None

    @property
    def since(self) -> datetime | None:
        return None if self._since is None else datetime.fromtimestamp(self._since, UTC)

    def failed(self, exc: BaseException, reason: str | None = None) -> None:
        """Record a storage failure; the first of an episode is logged, the rest are counted."""
        reason = reason or failure_reason(exc) or type(exc).__name__
        STORAGE_FAILURES.labels(self.backend).inc()
        self.reason = reason
        self.failures += 1
        if self._since is not None:
            return
        self._since = time.time()
        STORAGE_FAILING.labels(self.backend).set(1)
        log.error(
            "the %s database is failing (%s: %s); requests that need it are refused with "
            "storage_unavailable and /healthz reports it until a write succeeds",
            self.backend,
            reason,
            _driver_message(exc),
        )

    def succeeded(self) -> None:
        """Record a successful write; ends an episode (logged once). Cheap: on every batch."""
        if self._since is None:
            return
        log.warning(
            "the %s database takes writes again, after %d failed operations in %.1f s (last: %s)",
            self.backend,
            self.failures,
            time.time() - self._since,
            self.reason,
        )
        self._since = None
        self.reason = None
        self.failures = 0
        STORAGE_FAILING.labels(self.backend).set(0)

    def describe(self) -> str:
        if self._since is None:
            return f"the {self.backend} database takes writes"
        since = datetime.fromtimestamp(self._since, UTC).isoformat(timespec="seconds")
        return (
            f"writes to the {self.backend} database fail ({self.reason}) since {since}; "
            f"{self.failures} failed"
        )


_HEALTH: weakref.WeakKeyDictionary[Engine, StorageHealth] = weakref.WeakKeyDictionary()


def watch(engine: AsyncEngine) -> StorageHealth:
    """Count every storage failure ``engine`` meets in its :class:`StorageHealth`."""
    sync = engine.sync_engine
    existing = _HEALTH.get(sync)
    if existing is not None:
        return existing
    health = StorageHealth(engine.dialect.name)
    _HEALTH[sync] = health

    @event.listens_for(sync, "handle_error")
    def _failed(context: ExceptionContext) -> BaseException | None:
        # A dead pooled connection found by the pre-ping is replaced quietly by the
        # pool (which needs SQLAlchemy's own error for it); if the replacement cannot
        # connect either, that comes here again.
        if context.is_pre_ping:
            return None
        error = context.original_exception
        reason = failure_reason(error)
        if reason is None and context.connection is None:
            # No connection could be made (database not accepting connections,
            # authentication, no such database): unavailable, whatever the code.
            reason = f"cannot connect: {getattr(error, 'sqlstate', None) or type(error).__name__}"
        if reason is None:
            return None  # a bug, not the storage: SQLAlchemy's error as usual
        health.failed(error, reason)
        return _unavailable()  # raised "from" the driver's error

    @event.listens_for(sync, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        # What SQLAlchemy would call anyway; here for a connect that fails with a plain
        # OSError (asyncpg: connection refused, timeout), which no handle_error sees.
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if isinstance(exc, dialect.loaded_dbapi.Error):
                raise  # handle_error has it
            health.failed(exc, type(exc).__name__)
            raise _unavailable() from exc

    return health


def health_of(engine: AsyncEngine) -> StorageHealth:
    """The :class:`StorageHealth` of ``engine`` (watching it from now on if nobody did)."""
    return _HEALTH.get(engine.sync_engine) or watch(engine)


async def check_storage(engine: AsyncEngine) -> None:
    """Raise :class:`StorageUnavailable` (``field="database"``) unless the database works.

    While writes succeed, one read round trip (``SELECT 1``). While they fail, one
    write (:data:`PROBE`): a process that ``/healthz`` took out of rotation gets no
    traffic, so without a write of its own it would never see the database recover.
    """
    health = health_of(engine)
    probing = health.failing
    try:
        async with engine.connect() as conn:
            if probing:
                await conn.execute(sa.text(PROBE))
                await conn.commit()
            else:
                await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        # A storage failure was counted by the engine's watch; anything else (the
        # probe's table missing, say) still means the database cannot be relied on.
        reason = failure_reason(exc) or type(exc).__name__
        message = health.describe() if health.failing else f"the database fails ({reason})"
        raise StorageUnavailable(message, field="database") from exc
    if probing:
        health.succeeded()
