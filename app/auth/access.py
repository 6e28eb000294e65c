"""Who may call what: one decorator for pages and the API alike."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from app.extensions import login_manager
from app.models import Role


def role_required(*roles: Role):
    """Signed in (cookie or bearer) with one of `roles`; 401/redirect or 403 otherwise."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403, "Your account cannot do this.")
            return view(*args, **kwargs)

        return wrapped

    return decorator
