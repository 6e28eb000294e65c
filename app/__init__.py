"""The application factory: wiring only (no I/O, no migrations, no network)."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from app.models.types import MAX_ID
from config import BASE_DIR, Config


class IdConverter(BaseConverter):
    """A record id in a URL: digits within the database's integer range, else a 404 (an
    id of 30 digits is not a record, and must not reach the database as an overflow)."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            # NotFound, not ValidationError: Werkzeug answers a ValidationError with 405
            # when the same path has a rule for another method (GET and POST
            # /visits/0/notes), as if the other method would find the record.
            raise NotFound()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, instance_path=config.INSTANCE_PATH)
    app.config.from_object(config)
    app.url_map.converters["id"] = IdConverter
    if app.config["PROXY_COUNT"]:
        # Behind nginx: the client's address and scheme come from X-Forwarded-For/-Proto,
        # trusted for exactly PROXY_COUNT hops (a client cannot forge the rest).
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)

    from app import cli, errors, metrics, security
    from app.auth import session as auth_session
    from app.extensions import csrf, db, limiter, login_manager, mail, migrate, socketio
    from app.realtime.packets import SafePacket
    from app.realtime.queue import RedisManager

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        # Redis between instances; None on the embedded default (one process).
        client_manager=(
            RedisManager(app.config["REDIS_URL"], channel=app.config["SOCKETIO_CHANNEL"])
            if app.config["REDIS_URL"]
            else None
        ),
        # Same-origin only: engineio's default check, never "*".
        cors_allowed_origins=None,
        # One connection's events are handled in the order they were sent: an ICE candidate
        # relayed ahead of its offer is useless, and a leave must not overtake a join.
        async_handlers=False,
        # Junk packets become an error acknowledgement, not a logged traceback.
        serializer=SafePacket,
        logger=False,
        engineio_logger=False,
    )
    auth_session.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    metrics.init_app(app)  # after security: its timer goes first of all hooks
    cli.init_app(app)

    from app.admin.routes import bp as admin_bp
    from app.api import clinics as _clinic_api  # noqa: F401 (its routes join the API blueprint)
    from app.api import participants as _participants_api  # noqa: F401
    from app.api import self_tests as _self_tests_api  # noqa: F401
    from app.api import stations as _stations_api  # noqa: F401
    from app.api import visits_chat as _chat_api  # noqa: F401
    from app.api.routes import bp as api_bp
    from app.auth.routes import bp as auth_bp
    from app.clinic.routes import bp as clinic_bp
    from app.guests.routes import bp as guests_bp
    from app.health.routes import bp as health_bp
    from app.schedule.routes import bp as schedule_bp
    from app.settings.routes import bp as settings_bp
    from app.visits import chat_routes as _chat_routes  # noqa: F401 (on the visits blueprint)
    from app.visits.routes import bp as visits_bp

    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(clinic_bp)
    app.register_blueprint(guests_bp)
    app.register_blueprint(health_bp)  # /healthz, /readyz, /metrics
    app.register_blueprint(schedule_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(visits_bp, url_prefix="/visits")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(admin_bp, url_prefix="/admin")

    from kiosk import init_app as init_kiosk  # station mode: the one line that knows of it

    init_kiosk(app)

    from app.realtime import handlers
    from app.services import deliveries, request_timers  # noqa: F401 (register the jobs)

    handlers.register(socketio)
    return app
