"""The application factory: wiring only (no I/O, no migrations, no network)."""

from __future__ import annotations

from flask import Flask

from config import BASE_DIR, Config


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, instance_path=config.INSTANCE_PATH)
    app.config.from_object(config)

    from app import cli, errors
    from app.auth import session as auth_session
    from app.extensions import csrf, db, login_manager, mail, migrate, socketio

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        channel=app.config["SOCKETIO_CHANNEL"],
        # Same-origin only: engineio's default check, never "*".
        cors_allowed_origins=None,
        # One connection's events are handled in the order they were sent: an ICE candidate
        # relayed ahead of its offer is useless, and a leave must not overtake a join.
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )
    auth_session.init_app(app)
    errors.init_app(app)
    cli.init_app(app)

    from app.api.routes import bp as api_bp
    from app.auth.routes import bp as auth_bp
    from app.clinic.routes import bp as clinic_bp
    from app.visits.routes import bp as visits_bp

    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(clinic_bp)
    app.register_blueprint(visits_bp, url_prefix="/visits")
    app.register_blueprint(api_bp, url_prefix="/api/v1")

    from app.realtime import handlers

    handlers.register(socketio)
    return app
