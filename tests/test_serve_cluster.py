"""``grader serve --cluster``: the gradings run on a Dask cluster's workers (the
tasks of ``grader batch --cluster``), the site shows their results."""
from __future__ import annotations

import time

import pytest

from tests.grading_fixtures import cases_with_limits, synthetic_mnist_cache
from tests.support.classroom import reference_source
from tests.support.live_site import LiveSite, sign_in
from tests.test_batch_class import dask_cluster  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


def test_unit_feedback_comes_from_the_cluster(tmp_path, dask_cluster):  # noqa: F811
    address, _ = dask_cluster
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 5\n")
    site = LiveSite(tmp_path / "site", cases, synthetic_mnist_cache(tmp_path / "mnist"),
                    extra=("--workers", "1", "--mnist-workers", "0", "--cluster", address))
    links = site.init(["alice"])
    site.start()
    try:
        client, token = sign_in(site.url, links["alice"])
        sent = client.post("/submissions", data={"csrf": token},
                           files={"file": ("solution.py", reference_source().encode())},
                           headers={"Accept": "application/json"})
        state_url = f"/api/submissions/{sent.json()['id']}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = client.get(state_url).json()
            if state["lanes"][0]["state"] == "done":
                break
            time.sleep(0.5)
        assert state["total"] == 4.0, state
    finally:
        site.stop()
    log = (site.data / "server.log").read_text()
    assert '"lane": "unit"' in log and '"stored": true' in log
