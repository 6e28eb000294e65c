"""The self-test's verdict (clinicqueue/self_test.py): where Good ends and Poor begins."""

from __future__ import annotations

from clinicqueue.self_test import (
    POOR_BITRATE_KBPS,
    POOR_PACKET_LOSS,
    POOR_ROUND_TRIP_MS,
    Verdict,
    judge,
)

WORKING = dict(camera_ok=True, microphone_ok=True)


def test_numbers_at_the_thresholds_are_still_good():
    judgement = judge(**WORKING, round_trip_ms=POOR_ROUND_TRIP_MS,
                      packet_loss=POOR_PACKET_LOSS, bitrate_kbps=POOR_BITRATE_KBPS)  # fmt: skip
    assert (judgement.verdict, judgement.label, judgement.advice) == (Verdict.GOOD, "Good", ())


def test_each_number_past_its_threshold_is_poor_with_what_to_do():
    for numbers in [
        dict(round_trip_ms=POOR_ROUND_TRIP_MS + 1, packet_loss=0, bitrate_kbps=900),
        dict(round_trip_ms=20, packet_loss=POOR_PACKET_LOSS + 0.01, bitrate_kbps=900),
        dict(round_trip_ms=20, packet_loss=0, bitrate_kbps=POOR_BITRATE_KBPS - 1),
    ]:
        judgement = judge(**WORKING, **numbers)
        assert judgement.verdict == Verdict.POOR and judgement.label == "Poor"
        assert any("Wi-Fi" in line for line in judgement.advice)


def test_a_dead_device_or_no_connection_is_not_working_whatever_the_network():
    assert judge(False, True, 20, 0, 900).verdict == Verdict.FAILED
    assert judge(True, False, 20, 0, 900).verdict == Verdict.FAILED
    nothing = judge(True, True, None, None, None)
    assert nothing.label == "Not working"
    assert "could not connect" in nothing.advice[0]


def test_unmeasured_loss_and_bitrate_do_not_count_against_a_working_connection():
    assert judge(True, True, 20, None, None).verdict == Verdict.GOOD
