"""JSON API v1: thin views over the same services as the pages."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import admin_contests, admin_questions, practice, stats, views  # noqa: E402,F401
