"""Fixtures shared by the test modules (helpers without fixtures live in grading_fixtures.py)."""
from __future__ import annotations

import pytest

from tests.grading_fixtures import cases_with_limits


@pytest.fixture(scope="session")
def fast_unit_cases(tmp_path_factory):
    """A copy of ``test_cases/`` whose unit sections time out after 3 s instead of 30 s."""
    return cases_with_limits(tmp_path_factory.mktemp("fast-unit-cases") / "test_cases",
                             "[unit]\ntimeout_seconds = 3\n")
