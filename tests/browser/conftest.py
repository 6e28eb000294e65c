"""Browser tier: one Chromium for the whole run, a fresh context for each person.

The real server runs once per session (`tests/server.py`, seeded with the demo clinic);
before every test the demo accounts are put back to a known state through the API, so
tests can run in any order against the same server. Shared helpers live in support.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.browser.support import (
    CHROMIUM,
    Clinic,
    People,
    assert_accessible,
    launch_chromium,
    screenshot,
    start_server,
)
from tests.mail import SmtpServer
from tests.server import LiveServer

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session", autouse=True)
def chromium_installed() -> None:
    """No Chromium, no browser tier: fail (never skip, or `make test` would pass without
    it) before any live server starts: pytest sets autouse fixtures up first."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium`"
            " (or point $CHROMIUM at one)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """The mail server the live server sends its invitations to (a real one, on loopback)."""
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, smtp_server) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("browser-server"),
        extra_env={"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port)},
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def clinic_api(live_server) -> Clinic:
    return Clinic(live_server)


@pytest.fixture
def clinic(clinic_api) -> Clinic:
    """The demo clinic, at rest: nobody available, nothing pending, no live sessions."""
    clinic_api.reset()
    return clinic_api


@pytest.fixture
def people(browser, live_server, clinic, request) -> Iterator[People]:
    crowd = People(browser, live_server)
    yield crowd
    report = getattr(request.node, "rep_call", None)
    try:
        if report is not None and report.failed:
            # Leave evidence: what each person saw when the test failed.
            for label, page in crowd.pages.items():
                if not page.is_closed():
                    screenshot(page, f"failed-{request.node.name}-{label}")
        elif report is not None and report.passed:
            # Every page a browser test ends on is checked for accessibility too.
            for label, page in crowd.pages.items():
                if not page.is_closed() and page.url != "about:blank":
                    assert_accessible(page, f"{request.node.name}, {label}'s page at the end")
    finally:
        crowd.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
