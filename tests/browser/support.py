"""What the browser tests and bench/call_setup.py share: how to start Chromium, the demo
clinic driven through its API, people signed in in their own browser contexts, and what
"the video is playing" means."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import requests
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from tests.server import DEMO, DEMO_PASSWORD, ROOT, LiveServer, free_port, server_database_url

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium's fake camera sends 10 frames a second (its default is 20): every call test still
# sees frames arrive and decode, for about a quarter less of the tier's CPU (measured on
# three call tests: 110 s of CPU against 80 s).
FAKE_DEVICES = "fps=10"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    f"--use-fake-device-for-media-stream={FAKE_DEVICES}",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# A desk-sized screen: what a provider or a station actually has in front of them.
VIEWPORT = {"width": 1280, "height": 800}
PERMISSIONS = ["camera", "microphone", "notifications"]
NAMES = {
    "okafor": "Dr. Ada Okafor",
    "lindqvist": "Dr. Ben Lindqvist",
    "station": "Riverside Station",
    "harbour": "Harbour Station",
}
# A second station beside the demo's, so a provider can have more than one request waiting.
EMAILS = {**DEMO, "harbour": "harbour@example.org"}
PROVIDERS = ("okafor", "lindqvist")
REQUESTERS = ("station", "harbour")


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def start_server(workdir: Path, extra_env: dict | None = None) -> LiveServer:
    """The real server on the suite's database (PostgreSQL when TEST_DATABASE_URL is set)
    and Redis (when REDIS_URL is set), seeded with the demo clinic and a second station.
    Links in its messages start with its own address."""
    port = free_port()
    server = LiveServer(
        workdir=workdir,
        database_url=server_database_url(),
        redis_url=os.environ.get("REDIS_URL"),
        port=port,
        extra_env={
            # Its own Redis channel: other tiers may be running on the same Redis right now.
            "SOCKETIO_CHANNEL": f"anteroom-browser-{os.getpid()}",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            **(extra_env or {}),
        },
    )
    server.start()
    try:
        server.flask(
            "users", "create", "--email", EMAILS["harbour"], "--name", NAMES["harbour"],
            "--role", "requester", stdin=DEMO_PASSWORD + "\n",
        )  # fmt: skip
    except Exception:
        server.stop()
        raise
    return server


class Clinic:
    """The demo clinic through its API: tokens, ids, and putting everyone back at rest."""

    def __init__(self, server: LiveServer):
        self.server = server
        self._tokens: dict[str, str] = {}
        self._sessions: dict[str, requests.Session] = {}

    def token(self, who: str) -> str:
        if who not in self._tokens:
            self._tokens[who] = self.server.token(EMAILS[who])
        return self._tokens[who]

    def api(self, who: str, method: str, path: str, json=None) -> requests.Response:
        response = self.server.api(method, path, self.token(who), json=json)
        response.raise_for_status()
        return response

    def signed_in(self, who: str) -> requests.Session:
        """A cookie session signed in through the real form (pages take no bearer token)."""
        if who not in self._sessions:
            session = requests.Session()
            form = session.get(self.server.url + "/auth/login", timeout=10).text
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
            response = session.post(
                self.server.url + "/auth/login",
                data={"email": EMAILS[who], "password": DEMO_PASSWORD, "csrf_token": csrf},
                timeout=10,
            )
            response.raise_for_status()
            self._sessions[who] = session
        return self._sessions[who]

    def provider_id(self, who: str) -> int:
        return self.server.provider_id(self.token(who), NAMES[who])

    def forget(self, who: str) -> None:
        """Drop the person's token and signed-in session (after their deactivation ended them)."""
        self._tokens.pop(who, None)
        self._sessions.pop(who, None)

    def set_available(self, who: str, available: bool) -> None:
        self.api(who, "PUT", "/providers/me/availability", {"available": available})

    def dashboard(self, who: str, path: str) -> dict:
        """The page's own rendered snapshot of the user's stream (what the page starts from)."""
        response = self.signed_in(who).get(self.server.url + path, timeout=10)
        response.raise_for_status()
        found = re.search(
            r'<script type="application/json" id="snapshots">(.*?)</script>', response.text, re.S
        )
        snapshots = json.loads(found.group(1))
        return next(s["data"] for s in snapshots if not s["stream"].startswith("directory:"))

    def request_session(
        self, provider: str, service: str | None = None, requester: str = "station"
    ) -> dict:
        """The requester asks for a session through the API (as a station's integration would)."""
        body = {"provider_id": self.provider_id(provider)}
        if service:
            listed = self.api(requester, "GET", "/providers").json()
            offered = next(p for p in listed if p["name"] == NAMES[provider])["services"]
            body["service_id"] = next(s["id"] for s in offered if s["name"] == service)
        return self.api(requester, "POST", "/requests", body).json()

    def accepted_visit(self, provider: str, service: str | None = None) -> int:
        """A session the provider has accepted from Riverside Station; returns the visit id."""
        self.set_available(provider, True)
        request = self.request_session(provider, service)
        accepted = self.api(provider, "POST", f"/requests/{request['id']}/accept").json()
        return accepted["visit_id"]

    def reset(self) -> None:
        """Providers unavailable (declining anything pending), sessions ended, notes read."""
        for provider in PROVIDERS:
            self.set_available(provider, False)
            for visit in self.dashboard(provider, "/provider")["sessions"]:
                self.api(provider, "POST", f"/visits/{visit['id']}/end")
        for requester in REQUESTERS:
            for req in self.dashboard(requester, "/requester")["requests"]:
                verb = "cancel" if req["state"] == "pending" else "dismiss"
                self.api(requester, "POST", f"/requests/{req['id']}/{verb}")


class People:
    """`people.login("okafor")` → a signed-in page in its own browser context."""

    def __init__(self, browser: Browser, server: LiveServer):
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.pages: dict[str, Page] = {}

    def new_page(self, label: str = "anonymous") -> Page:
        context = self.browser.new_context(
            base_url=self.server.url, viewport=VIEWPORT, permissions=PERMISSIONS
        )
        self.contexts.append(context)
        page = context.new_page()
        self.pages[label] = page
        return page

    def login(self, who: str, password: str = DEMO_PASSWORD) -> Page:
        page = self.new_page(who)
        page.goto("/auth/login")
        page.get_by_label("Email").fill(EMAILS.get(who, who))
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/auth/login"))
        if page.locator("script#snapshots").count():  # a live dashboard
            wait_live(page)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def wait_live(page: Page) -> None:
    """Wait until a dashboard's script runs and its live connection is up."""
    expect(page.locator("html")).to_have_attribute("data-live", "connected")


AXE_SOURCE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Finished CSS transitions and arrival flashes: contrast is judged on what stays on screen.
SETTLE_ANIMATIONS = """() => {
  for (const animation of document.getAnimations()) {
    if (animation.effect?.getComputedTiming().endTime !== Infinity) animation.finish();
  }
}"""


def assert_accessible(page: Page, context_label: str) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the page as it is now.

    axe is injected with `evaluate`, which a Content-Security-Policy does not block (a
    script tag would be).
    """
    page.wait_for_load_state()
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text())
    page.evaluate(SETTLE_ANIMATIONS)
    violations = page.evaluate(
        "(tags) => axe.run(document, { runOnly: { type: 'tag', values: tags } })"
        "  .then((results) => results.violations)",
        AXE_TAGS,
    )
    if violations:
        lines = [f"{context_label} ({page.url}): {len(violations)} accessibility violation(s)"]
        for violation in violations:
            lines.append(f"- {violation['id']} [{violation['impact']}]: {violation['help']}")
            for node in violation["nodes"]:
                target = " >>> ".join(map(str, node["target"]))  # more than one: inside frames
                summary = " ".join((node.get("failureSummary") or "").split())
                lines.append(f"    {target}: {summary}")
        raise AssertionError("\n".join(lines))


def tab_to(page: Page, target, limit: int = 40) -> None:
    """Press Tab until `target` has focus, as someone without a mouse would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def screenshot(page: Page, name: str, folder: Path = ARTIFACTS, **options) -> Path:
    """Write page.png under test-artifacts/ (or `folder`) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    # Finished transitions: no half-faded hover or arrival flash in the picture.
    options.setdefault("animations", "disabled")
    page.screenshot(path=str(path), **options)
    return path


PLAYBACK = """async ([selector, wait]) => {
  const video = document.querySelector(selector);
  const sample = () => ({
    frames: video.getVideoPlaybackQuality().totalVideoFrames,
    time: video.currentTime,
  });
  const first = sample();
  await new Promise((resolve) => setTimeout(resolve, wait));
  const second = sample();
  return {
    width: video.videoWidth, height: video.videoHeight, paused: video.paused,
    readyState: video.readyState, first, second,
  };
}"""


def assert_video_playing(page: Page, selector: str = "#remote-video") -> dict:
    """The video is decoding frames right now: it has a size, and frames and time advance."""
    page.wait_for_function(
        """(selector) => {
          const v = document.querySelector(selector);
          return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
        }""",
        arg=selector,
        timeout=15_000,
    )
    seen = page.evaluate(PLAYBACK, [selector, 800])
    assert seen["width"] > 0 and seen["height"] > 0, seen
    assert not seen["paused"], seen
    assert seen["second"]["frames"] > seen["first"]["frames"], seen
    assert seen["second"]["time"] > seen["first"]["time"], seen
    return seen


def assert_in_call(page: Page, other: str) -> dict:
    """Connected to `other`, their video playing on this page, and no error on screen."""
    expect(page.locator("#room-status")).to_have_text(f"In the meeting with {other}")
    expect(page.locator("#overlay")).to_be_hidden()
    seen = assert_video_playing(page, "#remote-video")
    expect(page.get_by_role("alert")).to_be_hidden()
    assert page.evaluate("window.anteroomCall.connected") is True
    assert_audio_arriving(page)
    return seen


def assert_audio_arriving(page: Page) -> None:
    """The other side's microphone is heard: audio samples decode and keep coming."""
    before = page.evaluate("window.anteroomCall.received()")
    page.wait_for_timeout(500)
    after = page.evaluate("window.anteroomCall.received()")
    assert "audio" in after, after
    assert after["audio"]["samples"] > before.get("audio", {}).get("samples", 0), (before, after)


def side_by_side(browser: Browser, shots: list[tuple[str, Path]], path: Path) -> Path:
    """One picture of several screens, each under a caption (for the README)."""
    tiles = "".join(
        f'<figure><figcaption>{caption}</figcaption><img src="data:image/png;base64,'
        f'{base64.b64encode(shot.read_bytes()).decode()}"></figure>'
        for caption, shot in shots
    )
    html = f"""<!doctype html><style>
      body {{ margin: 0; padding: 28px; background: #e2e8f0; display: flex; gap: 28px;
        font: 600 22px system-ui, "DejaVu Sans", sans-serif; color: #0f172a; width: max-content; }}
      figure {{ margin: 0; }}
      figcaption {{ margin: 0 0 12px 4px; }}
      img {{ display: block; width: 960px; border-radius: 14px;
        box-shadow: 0 2px 6px rgba(15,23,42,.12), 0 12px 32px rgba(15,23,42,.14); }}
    </style><body>{tiles}</body>"""
    context = browser.new_context(viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        page.set_content(html)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.locator("body").screenshot(path=str(path))
    finally:
        context.close()
    return path
