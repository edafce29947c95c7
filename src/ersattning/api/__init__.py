"""The server: the HTTP API for patient systems and administrators, and the web app (Swedish)
on the embedded database. `create_app(db)` gives the ASGI app; `ersattning serve` runs it."""

from ersattning.api.app import create_app

__all__ = ["create_app"]
