"""The course site in headless Chromium: a student signs in by link, uploads and sees the
unit results, then MNIST's, without reloading; another student cannot open that result;
the instructor's gradebook updates by itself."""
from __future__ import annotations

import shutil

import pytest

from tests.grading_fixtures import cases_with_limits, synthetic_mnist_cache
from tests.support.classroom import reference_source
from tests.support.live_site import PASSWORD, LiveSite

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    area = tmp_path_factory.mktemp("browser-site")
    cases = cases_with_limits(area / "cases", "[unit]\ntimeout_seconds = 5\n\n[mnist]\n"
                              "timeout_seconds = 60\n")
    live = LiveSite(area / "site", cases, synthetic_mnist_cache(area / "mnist"),
                    extra=("--workers", "1", "--mnist-workers", "1"))
    live.links = live.init(["alice", "bob"])
    (area / "solution.py").write_text(reference_source())
    live.solution = area / "solution.py"
    live.start()
    yield live
    live.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium-headless-shell")
def test_a_student_sees_unit_then_mnist_results_and_others_cannot(site):
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        teacher = browser.new_context().new_page()
        teacher.goto(site.url + "/login")
        teacher.fill("input[name=password]", PASSWORD)
        teacher.click("button[type=submit]")
        expect(teacher.locator("#gradebook")).to_be_visible()
        alice_row = teacher.locator("tr[data-student=alice] td.total")
        expect(alice_row).to_have_text("-")

        alice = browser.new_context().new_page()
        for page in (alice, teacher):
            page.on("console", lambda message: problems.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
        alice.goto(site.url + site.links["alice"])
        alice.set_input_files("input[name=file]", str(site.solution))
        alice.click("#upload button[type=submit]")
        expect(alice.locator("#result")).to_be_visible()
        result_url = alice.url
        relu = alice.locator("tr[data-section=relu]")
        mnist = alice.locator("tr[data-section=mnist]")
        expect(relu).to_have_attribute("data-verdict", "passed", timeout=30_000)
        expect(mnist).to_have_attribute("data-verdict", "passed", timeout=120_000)
        expect(alice.locator("#total")).to_contain_text("Total: 5 / 5")
        expect(alice.locator("#mnist")).to_contain_text("test accuracy")

        expect(alice_row).to_have_text("5", timeout=30_000)  # the gradebook polled itself

        bob = browser.new_context().new_page()
        bob.goto(site.url + site.links["bob"])
        answer = bob.goto(result_url)
        assert answer.status == 404
        expect(bob.locator("#message")).to_contain_text("no such submission")
        browser.close()
    assert problems == []
