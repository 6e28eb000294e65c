"""Station mode: the kiosk screen a station shows, its enrollment, and the `stations` CLI.

Built on app.services (stations, snapshots) and app.auth (the station credential); nothing
imports this package but the one registration line in app.create_app.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from kiosk import cli
    from kiosk.routes import bp

    app.register_blueprint(bp)
    cli.init_app(app)
