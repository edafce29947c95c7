"""Fixtures shared by every test folder (helpers to build tables live in support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ersattning import rulebook

# Test folders have no __init__.py; make `import support` work from any of them.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def book():
    return rulebook.load()
