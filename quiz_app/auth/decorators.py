"""The one role check for pages and the JSON API (server-side, on every route)."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user


def roles_required(*roles: str):
    """Logged in (and, when `roles` are given, with one of them).

    Anonymous: a JSON 401 on /api/ paths, else the redirect to the login page
    (both through the login manager's unauthorized handler). Wrong role: a JSON
    403 on /api/ paths, else the 403 page.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if roles and current_user.role not in roles:
                if request.path.startswith("/api/"):
                    from .. import api_error

                    return api_error(403, "forbidden", "没有权限")
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate
