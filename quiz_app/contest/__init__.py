"""Contests: drawing, attempts, scoring (services), the citizen's quiz pages and
the organizer's contest pages (`admin_bp`, blueprint `contest_admin`)."""

from flask import Blueprint

bp = Blueprint("contest", __name__)

from . import cli, views  # noqa: E402,F401
from .admin_views import bp as admin_bp  # noqa: E402,F401
