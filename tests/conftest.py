"""Fixtures shared by the test modules (helpers without fixtures live in grading_fixtures.py)."""
from __future__ import annotations

import os

import pytest

from grader.boxes.early_start import PLANS_VARIABLE
from tests.grading_fixtures import cases_with_limits

# GRADER_TESTS_REQUIRE_ALL=1 (CI): a skip fails unless it is marked may_skip
from tests.support.require_all import (  # noqa: F401 - hooks, found here by pytest
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)


@pytest.fixture(scope="session", autouse=True)
def plans_of_this_run(tmp_path_factory):
    """The plans ``grader grade`` keeps for its early boxes: this run's own, not the user's."""
    previous = os.environ.get(PLANS_VARIABLE)
    os.environ[PLANS_VARIABLE] = str(tmp_path_factory.mktemp("plans"))
    yield
    if previous is None:
        os.environ.pop(PLANS_VARIABLE)
    else:
        os.environ[PLANS_VARIABLE] = previous


@pytest.fixture(scope="session")
def fast_unit_cases(tmp_path_factory):
    """A copy of ``test_cases/`` whose unit sections time out after 3 s instead of 30 s."""
    return cases_with_limits(tmp_path_factory.mktemp("fast-unit-cases") / "test_cases",
                             "[unit]\ntimeout_seconds = 3\n")


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster for the session (skipped, saying what to install,
    without PostgreSQL's binaries)."""
    from tests.support.postgres import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request):
    """The service's database: None (SQLite under the data folder), or a fresh PostgreSQL
    database of the session's cluster."""
    if request.param == "sqlite":
        return None
    import uuid

    from tests.support.postgres import fresh_database

    return fresh_database(request.getfixturevalue("postgres_url"), f"t{uuid.uuid4().hex[:12]}")
