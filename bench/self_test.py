"""The device self-test through the real server's relay and the real media worker.

    .venv/bin/python -m bench.self_test [--runs 10] [--seconds 3]

Each run is what a station's browser does, from an aiortc peer (media/self_test.py): offer
audio and video to POST /api/v1/self-tests/offer with the demo station's bearer token (the
web server relays it to the worker, which answers with an echo peer), connect, let the
echo flow, and measure. Reported per run and as medians:

- offer → answer: the relay's HTTP round trip, which includes the worker creating its
  peer, gathering host candidates and answering;
- offer → connected: the above plus ICE and DTLS;
- round trip: from the worker's RTCP receiver reports (remote-inbound-rtp roundTripTime);
- bitrate: what came back (audio and video), over `--seconds`.

The aiortc peer sends a synthetic solid colour, which VP8 compresses to almost nothing:
the bitrate here is the floor of what the path carries, not what a camera would send
(Chromium's fake camera, in tests/browser/test_self_test.py, comes back at ~550 kbps).
The real server (gevent, as `make run`), everything on 127.0.0.1; writes
bench/results/self_test.json. A measurement, not a test: no threshold here.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.results_file import provenance, write_result
from media.self_test import run_self_test
from tests.server import LiveServer, server_database_url

RESULTS = Path(__file__).resolve().parent / "results" / "self_test.json"


def median(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if run[key] is not None]
    return round(statistics.median(values), 1) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3, help="measuring window per run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-self-test-") as workdir:
        server = LiveServer(workdir=Path(workdir), database_url=server_database_url())
        try:
            server.start()
            headers = {"Authorization": f"Bearer {server.token('station')}"}
            offer_url = server.url + "/api/v1/self-tests/offer"
            runs = []
            print(f"{'run':>3}  {'offer→answer':>12}  {'→connected':>10}  {'RTT':>7}  "
                  f"{'bitrate':>12}  {'loss':>5}  frames")  # fmt: skip
            for n in range(1, args.runs + 1):
                result = asyncio.run(run_self_test(offer_url, headers, seconds=args.seconds))
                run = {k: round(v, 2) if isinstance(v, float) else v
                       for k, v in asdict(result).items()}  # fmt: skip
                runs.append(run)
                print(
                    f"{n:>3}  {run['offer_to_answer_ms']:>9.1f} ms  {run['connected_ms']:>7.1f} ms"
                    f"  {run['round_trip_ms'] or float('nan'):>4.1f} ms"
                    f"  {run['bitrate_kbps'] or float('nan'):>7.1f} kbps  {run['packet_loss']}"
                    f"  {run['frames_echoed']}"
                )
        finally:
            server.stop()

    summary = {
        "offer_to_answer_ms_p50": median(runs, "offer_to_answer_ms"),
        "connected_ms_p50": median(runs, "connected_ms"),
        "round_trip_ms_p50": median(runs, "round_trip_ms"),
        "bitrate_kbps_p50": median(runs, "bitrate_kbps"),
    }
    print("median:", ", ".join(f"{k} {v}" for k, v in summary.items()))
    write_result(
        {
            **provenance(),
            "what": "device self-test from an aiortc peer via the web relay to the media worker",
            "runs": args.runs,
            "seconds": args.seconds,
            "summary": summary,
            "results": runs,
        },
        args.output,
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
