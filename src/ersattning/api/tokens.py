"""API tokens and web sessions: tokens are random secrets shown once, stored only as SHA-256
hashes, bound to a clinic or the administrator role, with an optional expiry, revocable; a web
session is a server-side row (its id hashed, a CSRF secret, an expiry) that signing in creates."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ersattning.engine import open_duckdb
from ersattning.errors import InputError
from ersattning.store import login_name

ADMIN, CLINIC = "admin", "clinic"
PREFIX = "ers_"
TOKENS_DDL = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id VARCHAR PRIMARY KEY, role VARCHAR, clinic_id VARCHAR, created_at TIMESTAMP, created_by VARCHAR,
    hash VARCHAR UNIQUE
)"""
SESSIONS_DDL = """
CREATE TABLE IF NOT EXISTS web_sessions (
    session_hash VARCHAR PRIMARY KEY, token_id VARCHAR, created_at TIMESTAMP, expires_at TIMESTAMP,
    ended_at TIMESTAMP, csrf VARCHAR, flash VARCHAR
)"""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a clinic (sees its own data) or the administrator (sees all)."""

    token_id: str
    role: str
    clinic_id: str | None

    @property
    def admin(self) -> bool:
        return self.role == ADMIN

    def may_see(self, clinic_id: str | None) -> bool:
        return self.admin or (clinic_id is not None and clinic_id == self.clinic_id)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the principal, the session's CSRF secret and a message waiting to be shown."""

    key: str  # the stored hash of the cookie's session id
    principal: Principal
    csrf: str
    flash: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def utc_now() -> dt.datetime:
    # Naive UTC, as every timestamp in these tables.
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ensure_tokens(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(TOKENS_DDL).fetchall()
    # A revoked token stays on record (who revoked it, when); it no longer signs anyone in.
    con.execute("ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMP").fetchall()
    con.execute("ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_by VARCHAR").fetchall()
    con.execute("ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP").fetchall()
    con.execute(SESSIONS_DDL).fetchall()


def create_token(db: str | Path | duckdb.DuckDBPyConnection, clinic_id: str | None = None, admin: bool = False,
                 created_by: str | None = None, expires_at: dt.datetime | None = None) -> str:
    """A new token for `clinic_id` (which must be a known clinic) or the administrator; returns it (once).
    `expires_at` (naive UTC): from then on the token is refused."""
    if expires_at is not None and expires_at <= utc_now():
        raise InputError(f"the expiry {expires_at:%Y-%m-%d %H:%M} is in the past: give a later date")
    con, opened = _connected(db)
    try:
        ensure_tokens(con)
        if not admin:
            known = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'clinics'").fetchall()[0][0]
            if not known or not con.execute("SELECT count(*) FROM clinics WHERE clinic_id = ?", [clinic_id]).fetchall()[0][0]:
                raise InputError(f"no clinic {clinic_id!r} in the database: load the inputs first, or check the id")
        token_id = secrets.token_hex(4)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        con.execute("INSERT INTO api_tokens (token_id, role, clinic_id, created_at, created_by, hash, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [
                        token_id, ADMIN if admin else CLINIC, None if admin else clinic_id, utc_now(),
                        created_by or login_name(), token_hash(token), expires_at,
                    ]).fetchall()
        return token
    finally:
        if opened:
            con.close()


_LIVE_TOKEN = "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)"


def lookup(con: duckdb.DuckDBPyConnection, token: str) -> Principal | None:
    """The principal of a presented token, or None (unknown, malformed, revoked or expired)."""
    if not token or len(token) > 200 or not token.startswith(PREFIX):
        return None
    rows = con.execute(f"SELECT token_id, role, clinic_id FROM api_tokens t WHERE hash = ? AND {_LIVE_TOKEN}",
                       [token_hash(token), utc_now()]).fetchall()
    return Principal(*rows[0]) if rows else None


# --- web sessions ----------------------------------------------------------------------------------

def start_session(con: duckdb.DuckDBPyConnection, who: Principal, hours: float) -> tuple[str, Session]:
    """A new session for `who` lasting `hours`: the id for the cookie (shown once, stored hashed) and the session."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utc_now()
    key = token_hash(session_id)
    con.execute("INSERT INTO web_sessions VALUES (?, ?, ?, ?, NULL, ?, NULL)",
                [key, who.token_id, now, now + dt.timedelta(hours=hours), csrf]).fetchall()
    return session_id, Session(key, who, csrf, None)


def find_session(con: duckdb.DuckDBPyConnection, session_id: str | None) -> Session | None:
    """The live session of a cookie's id: not ended, not expired, its token neither revoked nor expired."""
    if not session_id or len(session_id) > 100:
        return None
    now = utc_now()
    rows = con.execute(f"""
        SELECT s.session_hash, t.token_id, t.role, t.clinic_id, s.csrf, s.flash
        FROM web_sessions s JOIN api_tokens t ON t.token_id = s.token_id
        WHERE s.session_hash = ? AND s.ended_at IS NULL AND s.expires_at > ? AND {_LIVE_TOKEN}""",
                       [token_hash(session_id), now, now]).fetchall()
    if not rows:
        return None
    key, token_id, role, clinic_id, csrf, flash = rows[0]
    return Session(key, Principal(token_id, role, clinic_id), csrf, flash)


def end_session(con: duckdb.DuckDBPyConnection, key: str) -> None:
    con.execute("UPDATE web_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL", [utc_now(), key]).fetchall()


def set_flash(con: duckdb.DuckDBPyConnection, key: str, text: str | None) -> None:
    """The message the session's next page shows once (None: shown, cleared)."""
    con.execute("UPDATE web_sessions SET flash = ? WHERE session_hash = ?", [text, key]).fetchall()


def _connected(db):
    """A connection to `db` (a path, opened here) or `db` itself (a connection)."""
    if isinstance(db, (str, Path)):
        return open_duckdb(db), True
    return db, False


def list_tokens(db) -> list[dict]:
    """Every token's id, role, clinic, expiry and history (never the token or its hash)."""
    con, opened = _connected(db)
    try:
        ensure_tokens(con)
        cur = con.execute("SELECT token_id, role, clinic_id, created_at, created_by, expires_at, revoked_at, revoked_by "
                          "FROM api_tokens ORDER BY created_at, token_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        if opened:
            con.close()


def revoke_token(db, token_id: str, revoked_by: str | None = None) -> dict:
    """Revoke a token: from now on it signs nobody in, and its web sessions end. Raises InputError
    for an unknown id; revoking a revoked token changes nothing."""
    con, opened = _connected(db)
    try:
        ensure_tokens(con)
        rows = con.execute("SELECT revoked_at FROM api_tokens WHERE token_id = ?", [token_id]).fetchall()
        if not rows:
            raise InputError(f"no token {token_id!r}")
        if rows[0][0] is None:
            now = utc_now()
            con.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                        [now, revoked_by or login_name(), token_id]).fetchall()
            con.execute("UPDATE web_sessions SET ended_at = ? WHERE token_id = ? AND ended_at IS NULL", [now, token_id]).fetchall()
        return next(t for t in list_tokens(con) if t["token_id"] == token_id)
    finally:
        if opened:
            con.close()
