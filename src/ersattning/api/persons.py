"""Which person numbers a web page shows: a clinic sees those it already holds (its own listed
patients, the persons of the contacts reported on its kombikas), the administrator all; everyone
else stays a pseudonym. Only page bodies carry them: never URLs, logs or error messages."""

from __future__ import annotations

from ersattning.api.tokens import Principal


def held_persons(con, clinic_id: str, person_ids: list[str]) -> set[str]:
    """Of `person_ids`, those the clinic holds: ever listed there, or in a contact reported on one of
    its kombikas or sent by it. One query for the whole page of rows."""
    wanted = sorted({p for p in person_ids if p})
    if not wanted:
        return set()
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    parts, params = [], []
    if "listings" in tables:
        parts.append("SELECT person_id FROM listings WHERE clinic_id = ? AND list_contains(?, person_id)")
        params += [clinic_id, wanted]
    if "contact_events" in tables and "kombika" in tables:
        parts.append("SELECT e.person_id FROM contact_events e JOIN kombika k ON k.kombika = e.kombika "
                     "WHERE k.clinic_id = ? AND list_contains(?, e.person_id)")
        params += [clinic_id, wanted]
    if "contact_events" in tables and "api_batches" in tables:  # rows it sent itself, on any kombika
        parts.append("SELECT e.person_id FROM contact_events e JOIN api_batches b ON b.batch_id = e.batch_id "
                     "WHERE b.clinic_id = ? AND list_contains(?, e.person_id)")
        params += [clinic_id, wanted]
    if not parts:
        return set()
    return {r[0] for r in con.execute(" UNION ".join(parts), params).fetchall()}


def show_persons(con, who: Principal, rows: list[dict]) -> None:
    """Set `person_shown` on each row: its person number where `who` may read it, else its
    pseudonym; then drop `person_id`, so that no template can print one it may not."""
    ids = [r.get("person_id") for r in rows if r.get("person_id")]
    allowed = set(ids) if who.admin else (held_persons(con, who.clinic_id, ids) if ids else set())
    for r in rows:
        pid = r.pop("person_id", None)
        if "person" in r or pid is not None:
            r["person_shown"] = pid if pid in allowed else r.get("person")


def show_trace_persons(con, who: Principal, found: dict | None) -> dict | None:
    """A trace (line or contact, kept with person ids) as the web page may show it."""
    if found is None:
        return None
    rows = []
    if found.get("contact"):
        rows.append(found["contact"])
    rows += found.get("received") or []
    behind = found.get("behind") or {}
    rows += [r for r in behind.get("rows") or [] if isinstance(r, dict)]
    show_persons(con, who, rows)
    return found
