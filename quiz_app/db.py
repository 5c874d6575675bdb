"""SQL transaction boundaries: SQLite's WAL, busy timeout and transaction modes.

SQLite allows one writer at a time. A transaction that begins with
`BEGIN IMMEDIATE` takes the write lock first and waits for it (busy_timeout);
one that begins deferred only reads, and WAL lets any number of readers run
beside the writer. A deferred transaction that later writes has to *upgrade*,
and that fails at once with SQLITE_BUSY ("database is locked", busy_timeout
does not help) whenever another connection committed since its first read.
So every transaction declares up front what it is:

* in a request with a safe method (GET, HEAD, OPTIONS) it begins deferred;
* in a request with an unsafe method, and outside requests (CLI, the sweeper
  thread, tests), it begins IMMEDIATE;
* a safe-method request that must write after all (an attempt whose time ran
  out is finished when it is read, an export is audited) calls `begin_write()`
  before its first locking read: the read-only transaction ends and the rest
  of the request runs IMMEDIATE.

Slow work that needs no database (parsing an upload) runs between
`end_transaction()` and the write, so no lock is held across it.
PostgreSQL keeps its ordinary transactions; all of this is a no-op there.
"""

from __future__ import annotations

import warnings
from contextvars import ContextVar, Token

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Whether transactions begun in this context take SQLite's write lock first.
_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=True)
#: connection.info key: the mode the connection's current transaction began in.
_MODE = "quiz_sqlite_begin"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class DeferredWriteWarning(RuntimeWarning):
    """A write ran in a transaction that began deferred: it can fail with
    "database is locked" under contention. Call begin_write() first."""


def register_database(app: Flask) -> None:
    """Configure the engine for its dialect (PostgreSQL needs nothing here)."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        _configure_sqlite(db.engine)

    def declare_intent() -> None:
        g._sqlite_intent = _write_intent.set(request.method not in SAFE_METHODS)

    def forget_intent(_exc: BaseException | None) -> None:
        token: Token[bool] | None = g.pop("_sqlite_intent", None)
        if token is not None:
            _write_intent.reset(token)

    # First, before any other hook could touch the database.
    app.before_request_funcs.setdefault(None, []).insert(0, declare_intent)
    app.teardown_request(forget_intent)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and BEGIN / BEGIN IMMEDIATE by the context's intent."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):  # pragma: no cover - driver hook
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event decide
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        immediate = _write_intent.get()
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        conn.info[_MODE] = "immediate" if immediate else "deferred"

    @event.listens_for(engine, "before_cursor_execute")
    def on_execute(conn, _cursor, statement: str, _params, context, _many) -> None:
        if conn.info.get(_MODE) != "deferred" or not conn.in_transaction():
            return
        if (
            context is not None
            and (context.isinsert or context.isupdate or context.isdelete)
        ) or statement.lstrip()[:7].upper().startswith(_WRITES):
            warnings.warn(
                "write in a deferred SQLite transaction; call begin_write() first",
                DeferredWriteWarning,
                stacklevel=2,
            )


def _is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def in_write_transaction() -> bool:
    """True if the session's current SQLite transaction holds the write lock
    (always True on PostgreSQL, whose transactions need no declaration)."""
    if not _is_sqlite():
        return True
    return db.session.connection().info.get(_MODE) == "immediate"


def begin_write() -> None:
    """Make the rest of this context write-capable: on SQLite, end a read-only
    (deferred) transaction and begin IMMEDIATE, waiting for the write lock.

    Call it before the first read the write depends on, with nothing unflushed:
    objects loaded earlier stay loaded, but re-read rows under the lock
    (`populate_existing`, `FOR UPDATE`) before deciding on them.
    """
    if not _is_sqlite():
        return
    _write_intent.set(True)
    if in_write_transaction():  # begins IMMEDIATE if no transaction is open
        return
    if db.session.new or db.session.dirty or db.session.deleted:
        raise RuntimeError("begin_write() with unflushed changes in the session")
    db.session.commit()  # nothing was written: this only ends the read
    db.session.connection()  # BEGIN IMMEDIATE now, not at the next statement


def end_transaction() -> None:
    """End the session's transaction before slow work that needs no database,
    so no lock or snapshot is held across it (loaded objects stay usable:
    expire_on_commit is off). The next statement begins a new transaction."""
    if db.session.new or db.session.dirty or db.session.deleted:
        raise RuntimeError("end_transaction() with unflushed changes in the session")
    db.session.commit()
