"""Fixtures for the register tests: a DuckDB file with small master data loaded."""

from __future__ import annotations

import pytest
from gvr_files import MASTER

from ersattning.store import open_engine, store_inputs


@pytest.fixture
def db(tmp_path):
    """A database file with the master data loaded; yields its engine."""
    engine = open_engine(tmp_path / "gvr.duckdb")
    store_inputs(engine, MASTER)
    yield engine
    engine.con.disconnect()
