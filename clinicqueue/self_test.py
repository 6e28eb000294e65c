"""The device self-test's verdict: Good, Poor or Not working, and what to do about it.

The thresholds live here and nowhere else; the server judges every result it stores
(app/services/self_tests.py) and the page shows the server's verdict.

- **Not working** (failed): the camera sent no picture back, the microphone no sound, or
  the connection to the test service never carried media (no round-trip time measured).
- **Poor**: it works, but a call may freeze or break up: a round trip above
  POOR_ROUND_TRIP_MS, more than POOR_PACKET_LOSS of the packets lost, or less than
  POOR_BITRATE_KBPS coming back.
- **Good**: everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

POOR_ROUND_TRIP_MS = 300.0  # ITU-T G.114 puts conversation's limit near 150 ms one way
POOR_PACKET_LOSS = 0.05  # 5 %: video visibly breaks up and freezes beyond this
# What the echo brings back, audio and video; a call's video alone wants about this much.
POOR_BITRATE_KBPS = 150.0


class Verdict(StrEnum):
    GOOD = "good"
    POOR = "poor"
    FAILED = "failed"


LABELS = {Verdict.GOOD: "Good", Verdict.POOR: "Poor", Verdict.FAILED: "Not working"}


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    advice: tuple[str, ...]  # what to do, in plain words; empty when all is well

    @property
    def label(self) -> str:
        return LABELS[self.verdict]


def judge(
    camera_ok: bool,
    microphone_ok: bool,
    round_trip_ms: float | None,
    packet_loss: float | None,
    bitrate_kbps: float | None,
) -> Judgement:
    """The verdict on one self-test's measurements, with advice for each problem found."""
    failed: list[str] = []
    if round_trip_ms is None:
        failed.append(
            "The test could not connect. Check the network cable or Wi-Fi, then test again."
        )
    if not camera_ok:
        failed.append(
            "The camera is not working. Check it is plugged in, not covered, and that the "
            "browser may use it."
        )
    if not microphone_ok:
        failed.append(
            "The microphone is not working. Check it is plugged in, not muted, and that the "
            "browser may use it."
        )
    if failed:
        return Judgement(Verdict.FAILED, tuple(failed))
    poor: list[str] = []
    if round_trip_ms > POOR_ROUND_TRIP_MS:
        poor.append("The network is slow; people may talk over each other in the call.")
    if packet_loss is not None and packet_loss > POOR_PACKET_LOSS:
        poor.append("The network is losing data; the call may freeze or break up.")
    if bitrate_kbps is not None and bitrate_kbps < POOR_BITRATE_KBPS:
        poor.append("The network is slow; the picture may be blurry or freeze.")
    if poor:
        poor.append("Move closer to the Wi-Fi, use a cable, or ask others to stop downloads.")
        return Judgement(Verdict.POOR, tuple(poor))
    return Judgement(Verdict.GOOD, ())
