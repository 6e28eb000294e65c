"""What every request and response passes through: body limits and security headers.

Bodies: MAX_CONTENT_LENGTH (JSON and forms, 1 MB by default) for every route, and
MAX_UPLOAD_BYTES for views marked `accepts_upload`. A declared Content-Length beyond the
limit is refused with 413 before any of the body is read. A chunked body (no length
declared) is read here, first of all hooks, into a spooled buffer, and refused with 413
as soon as it passes the limit: Werkzeug's own guard silently truncates such a body at
the limit, which would hand the view half a request.

Headers: a strict Content-Security-Policy (scripts and styles only from this site, no
inline code, no framing), nosniff, a same-origin Referrer-Policy, a Permissions-Policy that
lets only views marked `uses_media` (the visit room) ask for the camera, microphone and
screen, and views marked `uses_devices` (pages with the device self-test) for the camera and
microphone alone, Cache-Control: no-store on everything but static files (pages and API answers
carry patient data), and HSTS when the request came over HTTPS.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

OTHER_FEATURES = "geolocation=(), payment=(), usb=()"
NO_MEDIA = f"camera=(), microphone=(), display-capture=(), {OTHER_FEATURES}"
MEDIA = f"camera=(self), microphone=(self), display-capture=(self), {OTHER_FEATURES}"
DEVICES = f"camera=(self), microphone=(self), display-capture=(), {OTHER_FEATURES}"


def accepts_upload(view: Callable) -> Callable:
    """Mark a view whose body may be as large as MAX_UPLOAD_BYTES."""
    view.accepts_upload = True
    return view


def uses_media(view: Callable) -> Callable:
    """Mark a view whose page uses the camera, microphone or screen capture."""
    view.uses_media = True
    return view


def uses_devices(view: Callable) -> Callable:
    """Mark a view whose page uses the camera and microphone only (the device self-test):
    no screen capture, and no WebAssembly in its script-src."""
    view.uses_devices = True
    return view


def _view_flag(name: str) -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, name, False))


def limit_body() -> None:
    if _view_flag("accepts_upload"):
        upload = current_app.config["MAX_UPLOAD_BYTES"]
        request.max_content_length = upload
        request.max_form_memory_size = upload
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if limit is not None and request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        _buffer_chunked_body(limit)


def _buffer_chunked_body(limit: int) -> None:
    """Read a chunked body up to `limit` bytes (413 past it) and hand it on with its
    length, as if the client had declared one."""
    source = request.environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (handed on)
    remaining = limit + 1
    while remaining > 0:
        chunk = source.read(min(64 * 1024, remaining))
        if not chunk:
            break
        spool.write(chunk)
        remaining -= len(chunk)
    if remaining <= 0:
        spool.close()
        raise RequestEntityTooLarge()
    size = spool.tell()
    spool.seek(0)
    g.spooled_body = spool  # closed when the request ends (close_spooled_body)
    request.environ["wsgi.input"] = spool
    request.environ["CONTENT_LENGTH"] = str(size)
    del request.environ["HTTP_TRANSFER_ENCODING"]


def content_security_policy() -> str:
    socket_scheme = "wss" if request.is_secure else "ws"
    policy = {
        "default-src": "'self'",
        # A page with the camera may run WebAssembly (the background blur's model); no eval.
        "script-src": "'self' 'wasm-unsafe-eval'" if _view_flag("uses_media") else "'self'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "media-src": "'self' blob:",
        # 'self' covers same-host WebSockets in CSP 3; the explicit origin serves older
        # browsers.
        "connect-src": f"'self' {socket_scheme}://{request.host}",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def set_headers(response):
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"  # Flask-WTF checks Referer over HTTPS
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Content-Security-Policy"] = content_security_policy()
    if _view_flag("uses_media"):
        headers["Permissions-Policy"] = MEDIA
    else:
        headers["Permissions-Policy"] = DEVICES if _view_flag("uses_devices") else NO_MEDIA
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    if request.is_secure and current_app.config["HSTS_SECONDS"]:
        headers["Strict-Transport-Security"] = (
            f"max-age={current_app.config['HSTS_SECONDS']}; includeSubDomains"
        )
    return response


def close_spooled_body(_exc=None) -> None:
    spool = g.pop("spooled_body", None)
    if spool is not None:
        spool.close()


def init_app(app: Flask) -> None:
    # First of all hooks: CSRF protection reads the form in its own before_request hook.
    app.before_request_funcs.setdefault(None, []).insert(0, limit_body)
    app.after_request(set_headers)
    app.teardown_request(close_spooled_body)
