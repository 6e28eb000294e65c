"""Serving: the web server for the configured async mode, with bounds on what one client
can hold.

- Read timeout (REQUEST_READ_TIMEOUT): a client must send its request line, headers and
  body within it, and an idle keep-alive connection closes after it, so slow or stalled
  clients cannot pile up connections. A WebSocket, once upgraded, has no read timeout:
  Engine.IO's own pings decide when it is dead.
- TCP_NODELAY on every connection: pywsgi writes headers and body separately, and with
  Nagle's algorithm a keep-alive client's delayed ACK held the body back 40 ms.
- A listen backlog of LISTEN_BACKLOG: after a restart every open page reconnects at once,
  and gevent's default queue (128; eventlet's is 50) overflowed, so the kernel dropped
  the rest of the SYNs and those pages waited out TCP's retransmission (1 s, 3 s, 7 s …)
  before they were even accepted (bench/connect_storm.py). The kernel caps it at
  net.core.somaxconn.
- Under eventlet, no cap on simultaneous connections but the file descriptor limit:
  eventlet.wsgi serves at most `max_size` at once (1,024 by default) and every open
  websocket holds one, so the 1,025th dashboard was never accepted (bench/fanout.py).

Called from wsgi.py after monkey-patching; nothing here runs at import.
"""

from __future__ import annotations

import logging
import signal
import socket

from flask import Flask

from app.extensions import socketio

logger = logging.getLogger("app.server")


LISTEN_BACKLOG = 4096
EVENTLET_MAX_CONNECTIONS = 1_000_000

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)


def serve(app: Flask, host: str, port: int) -> None:
    from app.services.jobs import start_runner

    mode = app.config["SOCKETIO_ASYNC_MODE"]
    timeout = app.config["REQUEST_READ_TIMEOUT"]
    start_runner(app)  # this process's background jobs (invitations, reminders, ticks)
    if mode == "gevent":
        _serve_gevent(app, host, port, timeout)
        return
    # SIGTERM ends the process the normal way (exit handlers run), as under gevent below.
    signal.signal(signal.SIGTERM, _exit_normally)
    if mode == "eventlet":
        _serve_eventlet(app, host, port, timeout)
    else:  # threading: tools and tests
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)


def _exit_normally(_signum, _frame) -> None:
    raise SystemExit(0)


def _serve_gevent(app: Flask, host: str, port: int, timeout: float) -> None:
    import gevent
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    class BoundedHandler(WebSocketHandler):
        def handle(self):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socket.settimeout(timeout)
            super().handle()

        def upgrade_websocket(self):
            # geventwebsocket asks this of every request; only a real upgrade loses the
            # read timeout.
            if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                self.socket.settimeout(None)
            return super().upgrade_websocket()

        def _handle_client_error(self, ex):
            # pywsgi prints a traceback for anything but a ValueError here; a client that
            # stalls in its headers is routine.
            if isinstance(ex, OSError):
                logger.info("client stalled or went away in its headers: %s", type(ex).__name__)
                return ("408", _TIMEOUT_RESPONSE)
            return super()._handle_client_error(ex)

    server = pywsgi.WSGIServer(
        (host, port),
        app,
        backlog=LISTEN_BACKLOG,
        handler_class=BoundedHandler,
        log=None,
        error_log=_ErrorLog(),
    )
    # SIGTERM (systemd, docker, the test harness) stops accepting and lets the process
    # exit normally, so exit handlers run.
    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever()


def _serve_eventlet(app: Flask, host: str, port: int, timeout: float) -> None:
    import eventlet
    import eventlet.wsgi

    listener = eventlet.listen((host, port), backlog=LISTEN_BACKLOG)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # eventlet applies its timeout to WebSockets too: keep it above Engine.IO's ping
    # interval plus timeout (25 s + 20 s), so a quiet but live socket is never cut.
    eventlet.wsgi.server(
        listener,
        app,
        max_size=EVENTLET_MAX_CONNECTIONS,
        socket_timeout=max(timeout, 60),
        log_output=False,
        log=_ErrorLog(),
    )


class _ErrorLog:
    """pywsgi's error log as one line per problem: a client that goes away or stalls is
    routine, not a traceback."""

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            logger.info("%s", text.splitlines()[-1][:300])

    def flush(self) -> None:
        pass
