"""A real server (uvicorn in a subprocess) on the tiny AF region, shared by the API tests."""

from __future__ import annotations

import pytest
from server import start, stop


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("api"))
    yield s
    stop(s)
