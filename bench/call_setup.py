"""How long from "Enter Meeting" to the first frame of the patient's video, as a provider sees it.

    .venv/bin/python -m bench.call_setup [--runs 5]

Each run: Riverside Station sits in the waiting room of an accepted session; on the
provider's dashboard the session row says "In Waiting Room"; the provider presses Enter
Meeting. The clock starts in the provider's page at that press (Date.now() in a
capture-phase pointerdown listener, the moment before the click) and stops at
window.anteroomCall.firstRemoteFrameAt on the room page it opens (epoch ms, from
requestVideoFrameCallback). So it covers the page load, camera start, Socket.IO connect,
join, signaling, ICE, DTLS and the first decoded frame.

The real server (gevent, as `make run`), Debian's Chromium with the fake camera; the
database and Redis follow TEST_DATABASE_URL and REDIS_URL like the test suite. Prints each
run and the median; writes bench/results/call_setup.json. A measurement, not a test: no
threshold here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser.support import Clinic, People, launch_chromium, start_server, wait_live

RESULTS = Path(__file__).resolve().parent / "results" / "call_setup.json"

START_CLOCK_ON_PRESS = """(link) => {
  sessionStorage.removeItem("enterPressedAt");
  link.addEventListener(
    "pointerdown",
    () => sessionStorage.setItem("enterPressedAt", String(Date.now())),
    { capture: true, once: true },
  );
}"""


def one_run(clinic: Clinic, provider, requester) -> dict:
    clinic.reset()
    visit_id = clinic.accepted_visit("okafor", "Wound care")

    provider.goto("/provider")
    wait_live(provider)
    requester.goto(f"/visits/{visit_id}")
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()

    row = provider.get_by_role("listitem", name="Session with Riverside Station")
    expect(row.locator(".pill")).to_have_text("In Waiting Room")
    enter = row.get_by_role("link", name="Enter Meeting")
    enter.evaluate(START_CLOCK_ON_PRESS)
    enter.click()

    provider.wait_for_url(f"**/visits/{visit_id}")
    provider.wait_for_function("() => window.anteroomCall?.firstRemoteFrameAt", timeout=20_000)
    pressed, first_frame, loaded, origin, marks = provider.evaluate(
        """() => [
          Number(sessionStorage.getItem("enterPressedAt")),
          window.anteroomCall.firstRemoteFrameAt,
          performance.timeOrigin
            + performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
          performance.timeOrigin,
          window.anteroomCall.marks,
        ]"""
    )
    assert pressed > 0, "the press was not recorded"
    return {
        "visit_id": visit_id,
        "ms": round(first_frame - pressed, 1),
        "page_ready_ms": round(loaded - pressed, 1),
        # Each step of the room page's call setup, in ms after the press.
        "steps_ms": {name: round(origin + at - pressed) for name, at in marks.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        server = start_server(Path(workdir))
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                people = People(browser, server)
                clinic = Clinic(server)
                provider = people.login("okafor")
                requester = people.login("station")
                runs = []
                for n in range(1, args.runs + 1):
                    run = one_run(clinic, provider, requester)
                    runs.append(run)
                    print(
                        f"run {n}: {run['ms']:.0f} ms to the first remote frame "
                        f"(room page ready after {run['page_ready_ms']:.0f} ms)",
                        flush=True,
                    )
                    steps = sorted(run["steps_ms"].items(), key=lambda step: step[1])
                    print("   " + ", ".join(f"{name} {at}" for name, at in steps), flush=True)
                clinic.reset()
                version = browser.version
                people.close()
                browser.close()
        finally:
            server.stop()

    times = [r["ms"] for r in runs]
    median = statistics.median(times)
    print(f"median: {median:.0f} ms over {len(times)} runs")
    result = {
        "benchmark": "call_setup",
        "what": "provider presses Enter Meeting (requester already in the waiting room) "
        "until the first remote video frame on the provider's room page",
        "unit": "ms",
        "runs": times,
        "median": median,
        "page_ready_ms": [r["page_ready_ms"] for r in runs],
        "steps_ms": [r["steps_ms"] for r in runs],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            "chromium": version,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "server": "python wsgi.py (gevent)",
            "database": "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite",
            "redis": bool(os.environ.get("REDIS_URL")),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    raise SystemExit(code)
