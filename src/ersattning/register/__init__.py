"""The care-contact register (GVR): intake of contact files with error feedback to the clinic,
an append-only event log (report, correction, cancellation) and the current view as of any moment.

    result = intake(engine, "contacts.csv")          # one batch, one transaction
    write_contact_errors(result.errors, "contact_errors.csv")
    live = current_contacts(engine, as_of=None)       # Ibis table for the pricing engine
    contacts, errors = read_contacts("contacts.csv", inputs.tables, today)   # stateless
"""

from __future__ import annotations

from ersattning.register.log import (
    VIEW_COLUMNS, IntakeResult, UnreadableContactFile, current_contacts, current_contacts_arrow, ensure_log,
    intake, intake_table, read_contacts, records_table, write_contact_errors,
)
from ersattning.register.schema import CONTACT_ERROR_CODES, CONTACT_TYPES, CONTACTS_SCHEMA, ERRORS_SCHEMA, PROFESSIONS

__all__ = [
    "CONTACT_ERROR_CODES", "CONTACT_TYPES", "CONTACTS_SCHEMA", "ERRORS_SCHEMA", "PROFESSIONS", "VIEW_COLUMNS",
    "IntakeResult", "UnreadableContactFile", "current_contacts", "current_contacts_arrow", "ensure_log", "intake",
    "intake_table", "read_contacts", "records_table", "write_contact_errors",
]
