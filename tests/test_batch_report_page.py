"""report.html opens in headless Chromium with no console errors, sorts, and is screenshot."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grading_fixtures import cases_with_limits, synthetic_mnist_cache
from tests.support.classroom import broken_source, hostile_source, reference_source

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "reports"))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A class graded with MNIST (synthetic digits), so every chart has data."""
    area = tmp_path_factory.mktemp("page")
    cases = cases_with_limits(area / "cases", "[unit]\ntimeout_seconds = 3\n\n[mnist]\n"
                              "timeout_seconds = 60\n\n[box]\nimport_timeout_seconds = 3\n")
    cache = synthetic_mnist_cache(area / "mnist")
    folder = area / "class"
    folder.mkdir()
    sources = {"alice": reference_source(), "bob <b>": broken_source("softmax"),
               "carol": broken_source("dense"), "dave": hostile_source("syntax_error"),
               "erin": reference_source().replace("epochs=10", "epochs=2")}
    for student, source in sources.items():
        (folder / f"{student}.py").write_text(source)
    out = area / "results"
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "--out",
                           str(out), "--cases", str(cases), "--no-download"],
                          env={**os.environ, "GRADER_CACHE_DIR": str(cache)},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium-headless-shell")
def test_report_opens_without_console_errors_and_sorts(results):
    from playwright.sync_api import sync_playwright

    messages: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        page.on("requestfailed", lambda request: messages.append(f"request: {request.url}"))
        page.goto((results / "report.html").as_uri())
        assert page.locator("svg").count() == 4  # scores, pass rates, MNIST, failures
        students = "#students tbody tr td:first-child"
        assert page.locator(students).all_inner_texts() == ["alice", "bob <b>", "carol",
                                                            "dave", "erin"]
        page.click("#students th:has-text('Total')")
        page.click("#students th:has-text('Total')")  # descending
        first = page.locator(students).all_inner_texts()[0]
        assert first in ("alice", "erin")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / "class-report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert messages == []
    assert shot.stat().st_size > 20_000
