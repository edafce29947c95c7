"""The hostile tests' server: a fresh tiny AF region and `ersattning serve` on 127.0.0.1 for each
test module (these tests change the register, so they do not share the API tests' server)."""

from __future__ import annotations

import pytest
from server import start, stop


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("security"))
    yield s
    stop(s)
