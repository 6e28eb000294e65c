"""The suite's own promises: without Chromium, every other tier still runs, and then the
browser tier fails (never skips) with a message that names the missing browser."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MISSING = "/nonexistent/chromium"


def test_without_chromium_the_other_tiers_pass_and_the_browser_tier_fails_naming_it(tmp_path):
    # Its own pytest, on SQLite, with nothing of this run's settings but the missing browser.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TEST_DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS")
        and not name.startswith("COV_")
    }
    env["CHROMIUM"] = MISSING
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'run'}",
            f"--junitxml={report}",
            "tests/unit/test_request_machine.py",
            "tests/browser/test_sign_in.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr

    assert run.returncode == 1, output  # 1: tests ran and some failed
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {
        f"{case.get('classname')}.{case.get('name')}": [
            result for result in case if result.tag in ("failure", "error", "skipped")
        ]
        for case in cases
    }
    unit = {name: results for name, results in outcomes.items() if name.startswith("tests.unit.")}
    browser = {
        name: results for name, results in outcomes.items() if name.startswith("tests.browser.")
    }
    assert unit and browser, output
    assert all(results == [] for results in unit.values()), output  # every unit test passed
    for name, results in browser.items():
        assert [r.tag for r in results] == ["error"], (name, output)
        assert f"Chromium not found at {MISSING}" in results[0].get("message"), name
    assert f"Chromium not found at {MISSING}: install it with `apt-get install chromium`" in output
    # Failed before the browser tier's live server started: it never made its folder.
    assert not list((tmp_path / "run").glob("browser-server*"))
