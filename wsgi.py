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
from app.extensions import socketio  # noqa: E402

app = create_app()

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(f"Anteroom is serving on http://{host}:{port}", flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)
