"""The two dashboards as their people notice them: what an unavailable provider's card
offers, what a decline says, where keyboard focus goes, the tab title and the chime, how
the pages use a big screen and a phone, that axe finds nothing, and that the live
stream's guards keep the page true when frames go missing or come late."""

from __future__ import annotations

import json
import re
import time
from collections import deque

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.support import NAMES, assert_accessible, screenshot, tab_to, wait_live

pytestmark = pytest.mark.browser

UNAVAILABLE_NOTE = "The provider is not available for sessions right now."
BRAND = "rgb(15, 118, 110)"  # --brand: what a live primary button is filled with


def provider_card(page: Page, name: str):
    return page.get_by_role("listitem", name=name, exact=True)


def requests_on(page: Page):
    return page.locator("#requests > li")


class SocketTap:
    """Stands between a page and its Socket.IO websocket (Playwright's WebSocket routing).

    Frames pass through untouched, except that a test may drop the next server→page event
    of a name, and may replay any frame the page was sent. Frames look like
    `42["request_created",{...}]`; engine.io's ping ("2") and pong ("3") pass through.
    """

    def __init__(self, page: Page):
        self.page = page
        self.received: list[tuple[str, dict, str]] = []  # server→page events, in order
        self.sent: list[tuple[str, object]] = []  # page→server events
        self.dropped: list[tuple[str, dict]] = []
        self._drop_next: list[tuple[str, object]] = []
        self._pings: deque[str] = deque()  # pings the page has yet to answer: "server" or "probe"
        self._page_side: WebSocketRoute | None = None
        page.route_web_socket(re.compile(r"/socket\.io/"), self._connect)

    def _connect(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        self._page_side = ws
        ws.on_message(lambda message: self._from_page(server, message))
        server.on_message(lambda message: self._from_server(ws, message))

    def _from_server(self, ws: WebSocketRoute, message) -> None:
        if message == "2":
            self._pings.append("server")
        event = _event(message)
        if event:
            name, payload = event
            wanted = next((d for d in self._drop_next if d[0] == name and d[1](payload)), None)
            if wanted is not None:
                self._drop_next.remove(wanted)
                self.dropped.append((name, payload))
                return
            self.received.append((name, payload, message))
        ws.send(message)

    def _from_page(self, server: WebSocketRoute, message) -> None:
        if message == "3" and self._pings and self._pings.popleft() == "probe":
            return  # the answer to our own ping; the server never asked
        event = _event(message)
        if event:
            self.sent.append(event)
        server.send(message)

    def drop_next(self, name: str, when=None) -> None:
        """Drop the next `name` event (the next one whose payload `when` accepts)."""
        self._drop_next.append((name, when or (lambda payload: True)))

    def last(self, name: str, stream_prefix: str = "") -> str:
        """The raw frame of the latest `name` event (on a stream starting with the prefix)."""
        for event, payload, raw in reversed(self.received):
            if event == name and str(payload.get("stream", "")).startswith(stream_prefix):
                return raw
        raise AssertionError(f"the page was never sent {name} {stream_prefix}")

    def replay(self, raw: str) -> None:
        """Send the page a frame again, as a late or duplicated delivery would."""
        self._page_side.send(raw)

    def settle(self) -> None:
        """Return once the page has handled every frame sent to it so far.

        Frames are handled in order, so the answer to a ping sent after them proves it.
        """
        self._pings.append("probe")
        self._page_side.send("2")
        self.wait_until(lambda: not self._pings, "the page to answer a ping")

    def wait_until(self, condition, what: str, timeout: float = 10.0) -> None:
        # Routed frames are handled while Playwright is waiting, so wait in the page.
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.page.wait_for_timeout(25)


def _event(message) -> tuple[str, object] | None:
    if not isinstance(message, str) or not message.startswith("42"):
        return None
    name, *args = json.loads(message[2:])
    return name, (args[0] if args else None)


def tapped(page: Page) -> SocketTap:
    """Put a SocketTap on a signed-in dashboard: reload so its socket goes through the tap."""
    tap = SocketTap(page)
    page.reload()
    wait_live(page)
    return tap


# 1. An unavailable provider cannot be asked, and can be again the moment they return.


def test_a_deactivated_provider_leaves_the_open_dashboards_and_returns_when_activated(
    people, clinic
):
    requester = people.login("station")
    gone = provider_card(requester, "Dr. Ben Lindqvist")
    expect(gone).to_be_visible()
    lindqvist = clinic.provider_id("lindqvist")

    try:
        clinic.api("admin", "PATCH", f"/users/{lindqvist}", {"active": False})
        expect(gone).to_have_count(0)  # no reload: the directory said its list changed
        expect(provider_card(requester, "Dr. Ada Okafor")).to_be_visible()
    finally:
        clinic.api("admin", "PATCH", f"/users/{lindqvist}", {"active": True})
        clinic.forget("lindqvist")  # the deactivation ended his token and sessions
    expect(gone).to_be_visible()
    expect(gone.get_by_text("Unavailable", exact=True)).to_be_visible()


def test_an_unavailable_provider_cannot_be_asked_until_they_return(people, clinic):
    clinic.set_available("okafor", True)
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ben Lindqvist")
    expect(card.get_by_text("Unavailable", exact=True)).to_be_visible()
    expect(card.get_by_role("button", name="Request Session Now")).to_have_count(0)
    away = card.get_by_role("button", name="Not available right now")
    expect(away).to_have_attribute("aria-disabled", "true")
    # It looks switched off, not like the live teal button beside it.
    live_button = provider_card(requester, "Dr. Ada Okafor").locator('[data-action="request"]')
    expect(live_button).to_have_css("background-color", BRAND)
    expect(away).not_to_have_css("background-color", BRAND)
    assert_accessible(requester, "requester, a provider unavailable")

    posted = []
    requester.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    away.click(force=True)  # force: Playwright itself will not press an aria-disabled button
    away.focus()
    requester.keyboard.press("Enter")
    requester.keyboard.press("Space")
    requester.wait_for_timeout(500)
    assert posted == []
    assert clinic.dashboard("station", "/requester")["requests"] == []
    expect(card.get_by_role("alert")).to_have_count(0)

    # The provider comes back: the same button, still under the keyboard, asks again.
    clinic.set_available("lindqvist", True)
    ask = card.get_by_role("button", name="Request Session Now")
    expect(ask).to_be_visible()
    expect(ask).not_to_have_attribute("aria-disabled", "true")
    expect(ask).to_be_focused()
    requester.mouse.move(0, 0)  # no hover colour from the forced click above
    expect(ask).to_have_css("background-color", BRAND)
    requester.keyboard.press("Enter")
    expect(card.get_by_text("Waiting for Dr. Ben Lindqvist…")).to_be_visible()
    assert_accessible(requester, "requester, a request pending")


# 2. A decline says why: the provider is away, or the provider said no.


def test_a_decline_says_whether_the_provider_is_away_or_said_no(people, clinic):
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ben Lindqvist")

    # Asked while away (a station's integration can still ask): created declined.
    clinic.request_session("lindqvist")
    away = card.get_by_role("alert")
    expect(away).to_have_text(re.compile(r"^\s*Dr\. Ben Lindqvist is not available right now\."))
    expect(away).not_to_contain_text("declined")
    expect(away).not_to_contain_text(UNAVAILABLE_NOTE)
    expect(card.locator(".note")).to_be_hidden()
    [sent] = clinic.dashboard("station", "/requester")["requests"]
    assert sent["decline_reason"] == "unavailable", sent
    screenshot(requester, "requester-provider-not-available")
    assert_accessible(requester, "requester, told the provider is not available")
    card.get_by_role("button", name="Dismiss").click()
    expect(card.get_by_role("alert")).to_have_count(0)

    # Asked while there, and declined with a note: that is a refusal, note and all.
    clinic.set_available("lindqvist", True)
    card.get_by_role("button", name="Request Session Now").click()
    expect(card.get_by_text("Waiting for Dr. Ben Lindqvist…")).to_be_visible()
    [pending] = clinic.dashboard("station", "/requester")["requests"]
    assert pending["decline_reason"] is None, pending
    clinic.api("lindqvist", "POST", f"/requests/{pending['id']}/decline", {"note": "Back at two."})
    said_no = card.get_by_role("alert")
    expect(said_no).to_contain_text("Dr. Ben Lindqvist declined your request.")
    expect(said_no).to_contain_text("“Back at two.”")
    [declined] = clinic.dashboard("station", "/requester")["requests"]
    assert declined["decline_reason"] == "declined", declined
    assert_accessible(requester, "requester, a declined note")


def test_asking_just_as_the_provider_goes_away_says_they_are_not_available(people, clinic):
    clinic.set_available("lindqvist", True)
    requester = people.login("station")
    tap = tapped(requester)
    card = provider_card(requester, "Dr. Ben Lindqvist")
    ask = card.get_by_role("button", name="Request Session Now")
    expect(ask).to_be_visible()

    # The provider leaves a moment before the station's page hears of it.
    tap.drop_next("availability_changed")
    clinic.set_available("lindqvist", False)
    tap.wait_until(lambda: tap.dropped, "the availability change")
    ask.click()
    declined = card.get_by_role("alert")
    expect(declined).to_contain_text("Dr. Ben Lindqvist is not available right now.")
    expect(declined).not_to_contain_text("declined")
    expect(declined).not_to_contain_text(UNAVAILABLE_NOTE)


# 3. Keyboard focus never falls to the page body.


def accept_from(clinic, requester: str, service: str) -> None:
    request = clinic.request_session("okafor", service, requester=requester)
    clinic.api("okafor", "POST", f"/requests/{request['id']}/accept")


def test_ending_a_session_hands_focus_to_the_next_one(people, clinic):
    clinic.set_available("okafor", True)
    accept_from(clinic, "station", "General consultation")
    accept_from(clinic, "harbour", "Wound care")
    provider = people.login("okafor")
    rows = provider.locator("#sessions > li")
    expect(rows).to_have_count(2)
    assert_accessible(provider, "provider, two sessions")
    newest = provider.get_by_role("listitem", name="Session with Harbour Station")
    older = provider.get_by_role("listitem", name="Session with Riverside Station")
    expect(rows.first).to_have_accessible_name("Session with Harbour Station")

    tab_to(provider, newest.get_by_role("button", name="End Session"))
    provider.keyboard.press("Enter")
    expect(newest).to_have_count(0)
    # The session that took its place, ready to enter.
    expect(older.get_by_role("link", name="Enter Meeting")).to_be_focused()

    provider.keyboard.press("Tab")
    expect(older.get_by_role("button", name="End Session")).to_be_focused()
    provider.keyboard.press("Enter")
    expect(older).to_have_count(0)
    expect(provider.get_by_role("heading", name="Sessions")).to_be_focused()
    expect(provider.locator("#session-count")).to_have_text("0")


def test_escape_closes_the_decline_form_and_returns_to_decline(people, clinic):
    clinic.set_available("lindqvist", True)
    clinic.request_session("lindqvist")
    provider = people.login("lindqvist")
    request = provider.get_by_role("listitem", name="Request from Riverside Station")
    assert_accessible(provider, "provider, a request waiting")
    decline = request.get_by_role("button", name="Decline")
    tab_to(provider, decline)
    provider.keyboard.press("Enter")
    note = request.get_by_label("Note to the requester (optional)")
    expect(note).to_be_focused()
    note.fill("Give me five minutes")
    assert_accessible(provider, "provider, the decline form open")

    provider.keyboard.press("Escape")
    expect(note).to_be_hidden()
    expect(decline).to_be_focused()
    expect(request).to_be_visible()  # nothing was sent
    assert clinic.dashboard("lindqvist", "/provider")["requests"][0]["state"] == "pending"

    # Keep request closes it the same way.
    provider.keyboard.press("Enter")
    expect(note).to_be_focused()
    request.get_by_role("button", name="Keep request").click()
    expect(note).to_be_hidden()
    expect(decline).to_be_focused()


# 4. The tab title counts what is waiting; the station hears its request accepted.


def test_the_tab_title_counts_the_requests_waiting(people, clinic):
    clinic.set_available("okafor", True)
    provider = people.login("okafor")
    expect(provider).to_have_title("Requests · Anteroom")
    assert_accessible(provider, "provider, nothing waiting")

    clinic.request_session("okafor", "General consultation")
    expect(provider).to_have_title("(1) Requests · Anteroom")
    clinic.request_session("okafor", "Wound care", requester="harbour")
    expect(provider).to_have_title("(2) Requests · Anteroom")
    assert provider.evaluate("window.anteroomAlerts") == 2

    provider.get_by_role("listitem", name="Request from Harbour Station").get_by_role(
        "button", name="Accept", exact=True
    ).click()
    expect(provider).to_have_title("(1) Requests · Anteroom")
    provider.get_by_role("switch", name="I am available for sessions").click()  # declines the rest
    expect(provider).to_have_title("Requests · Anteroom")

    provider.reload()  # the title is right from the first paint of a fresh page too
    wait_live(provider)
    expect(provider).to_have_title("Requests · Anteroom")


COUNT_TONES = """
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.anteroomTones = (window.anteroomTones || 0) + 1;
    return start.apply(this, args);
  };
"""


def test_the_station_hears_its_request_accepted(people, clinic):
    clinic.set_available("lindqvist", True)
    requester = people.login("station")
    requester.context.add_init_script(COUNT_TONES)
    requester.reload()
    wait_live(requester)
    card = provider_card(requester, "Dr. Ben Lindqvist")
    card.get_by_role("button", name="Request Session Now").click()
    expect(card.get_by_text("Waiting for Dr. Ben Lindqvist…")).to_be_visible()
    assert requester.evaluate("window.anteroomAlerts ?? 0") == 0  # waiting makes no sound

    [pending] = clinic.dashboard("station", "/requester")["requests"]
    clinic.api("lindqvist", "POST", f"/requests/{pending['id']}/accept")
    expect(requester.get_by_role("listitem", name="Session with Dr. Ben Lindqvist")).to_be_visible()
    requester.wait_for_function("window.anteroomAlerts === 1")
    assert requester.evaluate("window.anteroomTones") >= 2  # the chime's two notes played
    assert_accessible(requester, "requester, a session ready")

    # Seeing the session again after a reload is not news: no second chime.
    requester.reload()
    wait_live(requester)
    expect(requester.get_by_role("listitem", name="Session with Dr. Ben Lindqvist")).to_be_visible()
    requester.wait_for_timeout(300)
    assert requester.evaluate("window.anteroomAlerts ?? 0") == 0


# 5. A big screen across a desk, and a phone.

MEASURE = """() => {
  const main = document.querySelector("main").getBoundingClientRect();
  return {
    rootFont: parseFloat(getComputedStyle(document.documentElement).fontSize),
    nameFont: parseFloat(
      getComputedStyle(document.querySelector(".request-who, .provider-card .name")).fontSize),
    mainWidth: main.width,
    overflow: document.documentElement.scrollWidth - innerWidth,
  };
}"""

# Every name on screen, and whether any of it is cut off: clipped or ellipsized inside its
# own box, or running out of its card (or the top bar), or off the screen.
CLIPPED_NAMES = """() => {
  const names = document.querySelectorAll(".user-name, .name");
  const problems = [];
  for (const el of names) {
    if (!el.getClientRects().length) continue;  // not on screen (a hidden template)
    const box = el.closest(".card, .topbar").getBoundingClientRect();
    const style = getComputedStyle(el);
    const say = (what) => problems.push(`${el.textContent}: ${what}`);
    if (el.clientWidth && el.scrollWidth > el.clientWidth) say("clipped");
    if (style.textOverflow === "ellipsis" && style.overflow !== "visible") say("ellipsis");
    for (const r of el.getClientRects()) {
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) say("outside its box");
      if (r.left < 0 || r.right > innerWidth) say("off screen");
    }
  }
  return { count: names.length, problems };
}"""

LONG_NAME = "Dr. Maximiliana Featherstonehaugh-Okonkwo"


def busy_day(clinic) -> None:
    """Real content on both dashboards: a session, a pending request, a declined note."""
    clinic.set_available("okafor", True)
    clinic.set_available("lindqvist", True)
    accept_from(clinic, "station", "General consultation")
    clinic.request_session("okafor", "Wound care", requester="harbour")
    asked = clinic.request_session("lindqvist")
    clinic.api("lindqvist", "POST", f"/requests/{asked['id']}/decline", {"note": "Back at two."})


def test_a_big_screen_is_used_and_readable_across_a_desk(people, clinic):
    busy_day(clinic)
    provider = people.login("okafor")
    requester = people.login("station")
    expect(requests_on(provider)).to_have_count(1)

    for page, who in ((provider, "provider"), (requester, "requester")):
        desk = page.evaluate(MEASURE)
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.mouse.move(0, 0)
        kiosk = page.evaluate(MEASURE)
        assert kiosk["rootFont"] >= 1.2 * desk["rootFont"], (who, desk, kiosk)
        assert kiosk["nameFont"] >= 1.2 * desk["nameFont"], (who, desk, kiosk)
        assert kiosk["mainWidth"] >= 0.85 * 1920, (who, kiosk)
        assert kiosk["overflow"] <= 0, (who, kiosk)
        assert page.evaluate(CLIPPED_NAMES)["problems"] == [], who
        screenshot(page, f"{who}-dashboard-1920x1080")
        assert_accessible(page, f"{who} at 1920×1080")

    # Side by side: the provider's requests beside the sessions; the providers in a row.
    assert_side_by_side(provider.locator("#requests"), provider.locator("#sessions"))
    assert_side_by_side(
        provider_card(requester, NAMES["okafor"]), provider_card(requester, NAMES["lindqvist"])
    )


def assert_side_by_side(first, second) -> None:
    left, right = first.bounding_box(), second.bounding_box()
    assert right["x"] >= left["x"] + left["width"], (left, right)
    assert abs(right["y"] - left["y"]) < 5, (left, right)


def test_names_wrap_and_stay_whole_on_a_phone(people, clinic):
    busy_day(clinic)
    provider = people.login("okafor")
    requester = people.login("station")
    expect(requests_on(provider)).to_have_count(1)

    for page, who in ((provider, "provider"), (requester, "requester")):
        page.set_viewport_size({"width": 390, "height": 844})
        page.mouse.move(0, 0)
        seen = page.evaluate(CLIPPED_NAMES)
        assert seen["count"] >= 3 and seen["problems"] == [], (who, seen)
        assert page.evaluate(MEASURE)["overflow"] <= 0, who
        me = NAMES["okafor" if who == "provider" else "station"]
        expect(page.get_by_role("banner")).to_contain_text(me)
        screenshot(page, f"{who}-dashboard-390x844", full_page=True)
        assert_accessible(page, f"{who} at 390×844")

        # A long name wraps too (set in place: no account has one).
        page.evaluate(
            """(name) => {
              document.querySelector(".user-name").textContent = name;
              document.querySelector(".card .name").textContent = name;
            }""",
            LONG_NAME,
        )
        seen = page.evaluate(CLIPPED_NAMES)
        assert seen["problems"] == [], (who, seen)
        assert page.evaluate(MEASURE)["overflow"] <= 0, who
        screenshot(page, f"{who}-dashboard-390x844-long-name")


# 6. Pages outside the dashboards pass axe too (the dashboards are checked above).


@pytest.mark.parametrize("who", ["admin", "scheduler"])
def test_the_overview_and_a_missing_page_are_accessible(people, clinic, who):
    clinic.set_available("okafor", True)
    page = people.login(who)
    expect(page.get_by_role("heading", name="Providers", level=1)).to_be_visible()
    assert_accessible(page, f"{who}'s overview")
    response = page.goto("/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert_accessible(page, "a 404 page")


# 7. The live stream's guards: a missed event is noticed, a late one is ignored.


def test_a_missed_event_is_noticed_at_the_next_and_the_page_resyncs(people, clinic):
    clinic.set_available("lindqvist", True)
    provider = people.login("lindqvist")
    tap = tapped(provider)
    stream = f"provider:{clinic.provider_id('lindqvist')}"

    tap.drop_next("request_created")
    clinic.request_session("lindqvist")
    tap.wait_until(lambda: tap.dropped, "the request_created frame")
    tap.settle()
    expect(requests_on(provider)).to_have_count(0)  # the page missed it: it cannot know yet

    # The next event's version is two ahead: the page asks for a snapshot and shows both.
    clinic.request_session("lindqvist", requester="harbour")
    expect(requests_on(provider)).to_have_count(2)
    expect(provider.get_by_role("listitem", name="Request from Riverside Station")).to_be_visible()
    expect(provider.get_by_role("listitem", name="Request from Harbour Station")).to_be_visible()
    expect(provider.locator("#request-count")).to_have_text("2")
    assert ("resync", {"stream": stream}) in tap.sent, tap.sent


def test_a_stale_notice_brings_a_quiet_stream_up_to_date(people, clinic):
    """Events lost while Redis was down: the stream may never say anything again, so the
    server's `stale` broadcast (app.realtime.queue) makes the page ask for every stream."""
    clinic.set_available("lindqvist", True)
    provider = people.login("lindqvist")
    tap = tapped(provider)
    stream = f"provider:{clinic.provider_id('lindqvist')}"

    tap.drop_next("request_created")
    clinic.request_session("lindqvist")
    tap.wait_until(lambda: tap.dropped, "the request_created frame")
    tap.settle()
    expect(requests_on(provider)).to_have_count(0)

    tap.replay('42["stale",{}]')  # what every page hears once Redis is back
    expect(provider.get_by_role("listitem", name="Request from Riverside Station")).to_be_visible()
    expect(provider.locator("#request-count")).to_have_text("1")
    asked = {payload["stream"] for name, payload in tap.sent if name == "resync"}
    assert stream in asked and any(s.startswith("directory:") for s in asked), tap.sent


def test_a_late_copy_of_an_older_event_does_not_bring_a_request_back(people, clinic):
    clinic.set_available("lindqvist", True)
    provider = people.login("lindqvist")
    tap = tapped(provider)
    asked = clinic.request_session("lindqvist")
    expect(requests_on(provider)).to_have_count(1)
    created = tap.last("request_created")

    clinic.api("lindqvist", "POST", f"/requests/{asked['id']}/decline", {})
    expect(requests_on(provider)).to_have_count(0)
    tap.replay(created)  # delivered again, after the decline it came before
    tap.settle()
    expect(requests_on(provider)).to_have_count(0)
    expect(provider).to_have_title("Requests · Anteroom")
    assert not any(name == "resync" for name, _ in tap.sent), tap.sent


def test_a_late_older_snapshot_does_not_wind_the_page_back(people, clinic):
    clinic.set_available("lindqvist", True)
    provider = people.login("lindqvist")
    tap = tapped(provider)
    empty = tap.last("snapshot", "provider:")  # taken on connect: nothing waiting

    clinic.request_session("lindqvist")
    request = provider.get_by_role("listitem", name="Request from Riverside Station")
    expect(request).to_be_visible()
    tap.replay(empty)
    tap.settle()
    expect(request).to_be_visible()
    expect(provider.locator("#request-count")).to_have_text("1")
