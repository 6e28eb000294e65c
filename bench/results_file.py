"""What every benchmark writes next to its numbers: when, and on what."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def provenance() -> dict:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }


def write_result(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def add_server_options(parser) -> None:
    """The options every benchmark gives the live server: async mode, database, Redis."""
    parser.add_argument(
        "--async-mode", default="gevent", choices=["gevent", "eventlet", "threading"]
    )
    parser.add_argument("--database-url", help="PostgreSQL; default: the server's own SQLite")
    parser.add_argument("--redis-url", help="Redis as the Socket.IO message queue")
