"""API tokens: random secrets shown once, stored only as SHA-256 hashes, bound to a clinic or to
the administrator role (`ersattning token create`), revocable (`token revoke`, or the admin API)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ersattning.engine import in_use_is_an_error
from ersattning.errors import InputError
from ersattning.store import login_name

ADMIN, CLINIC = "admin", "clinic"
PREFIX = "ers_"
TOKENS_DDL = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id VARCHAR PRIMARY KEY, role VARCHAR, clinic_id VARCHAR, created_at TIMESTAMP, created_by VARCHAR,
    hash VARCHAR UNIQUE
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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_tokens(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(TOKENS_DDL).fetchall()
    # A revoked token stays on record (who revoked it, when); it no longer signs anyone in.
    con.execute("ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMP").fetchall()
    con.execute("ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_by VARCHAR").fetchall()


def create_token(db: str | Path | duckdb.DuckDBPyConnection, clinic_id: str | None = None, admin: bool = False,
                 created_by: str | None = None) -> str:
    """A new token for `clinic_id` (which must be a known clinic) or the administrator; returns it (once)."""
    con, opened = _connected(db)
    try:
        ensure_tokens(con)
        if not admin:
            known = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'clinics'").fetchall()[0][0]
            if not known or not con.execute("SELECT count(*) FROM clinics WHERE clinic_id = ?", [clinic_id]).fetchall()[0][0]:
                raise InputError(f"no clinic {clinic_id!r} in the database: load the inputs first, or check the id")
        token_id = secrets.token_hex(4)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        con.execute("INSERT INTO api_tokens (token_id, role, clinic_id, created_at, created_by, hash) VALUES (?, ?, ?, ?, ?, ?)", [
            token_id, ADMIN if admin else CLINIC, None if admin else clinic_id,
            dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), created_by or login_name(), token_hash(token),
        ]).fetchall()
        return token
    finally:
        if opened:
            con.close()


def lookup(con: duckdb.DuckDBPyConnection, token: str) -> Principal | None:
    """The principal of a presented token, or None (unknown or malformed)."""
    if not token or len(token) > 200 or not token.startswith(PREFIX):
        return None
    rows = con.execute("SELECT token_id, role, clinic_id FROM api_tokens WHERE hash = ? AND revoked_at IS NULL",
                       [token_hash(token)]).fetchall()
    return Principal(*rows[0]) if rows else None


def _connected(db):
    """A connection to `db` (a path, opened here) or `db` itself (a connection)."""
    if isinstance(db, (str, Path)):
        with in_use_is_an_error(db):
            return duckdb.connect(str(db)), True
    return db, False


def list_tokens(db) -> list[dict]:
    """Every token's id, role, clinic and history (never the token or its hash)."""
    con, opened = _connected(db)
    try:
        ensure_tokens(con)
        cur = con.execute("SELECT token_id, role, clinic_id, created_at, created_by, revoked_at, revoked_by "
                          "FROM api_tokens ORDER BY created_at, token_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        if opened:
            con.close()


def revoke_token(db, token_id: str, revoked_by: str | None = None) -> dict:
    """Revoke a token: from now on it signs nobody in. Raises InputError for an unknown id;
    revoking a revoked token changes nothing."""
    con, opened = _connected(db)
    try:
        ensure_tokens(con)
        rows = con.execute("SELECT revoked_at FROM api_tokens WHERE token_id = ?", [token_id]).fetchall()
        if not rows:
            raise InputError(f"no token {token_id!r}")
        if rows[0][0] is None:
            con.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?", [
                dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), revoked_by or login_name(), token_id]).fetchall()
        return next(t for t in list_tokens(con) if t["token_id"] == token_id)
    finally:
        if opened:
            con.close()

