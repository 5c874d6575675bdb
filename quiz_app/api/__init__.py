"""JSON API v1: thin views over the same services as the pages."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import (  # noqa: E402,F401
    admin_contests,
    admin_items,
    admin_questions,
    admin_users,
    practice,
    privacy,
    stats,
    views,
)
