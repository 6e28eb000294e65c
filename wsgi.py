"""The server's entry point.

`python wsgi.py` serves with the configured async mode; monkey-patching happens here,
first, and nowhere else. `flask --app wsgi …` and WSGI servers import `app` from here
(gunicorn's gevent worker patches for itself).
"""

import os

if __name__ == "__main__":
    _mode = os.environ.get("SOCKETIO_ASYNC_MODE", "gevent")
    if _mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
    elif _mode == "eventlet":
        import eventlet

        eventlet.monkey_patch()

from app import create_app  # noqa: E402

app = create_app()

if __name__ == "__main__":
    import logging

    from app.server import serve

    # Warnings and errors from libraries; the app's own notes (a client that went away,
    # a stalled upload) at INFO. No access log: URLs and addresses stay out of it.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("app").setLevel(logging.INFO)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(f"Anteroom is serving on http://{host}:{port}", flush=True)
    serve(app, host, port)
