"""JSON API v1: thin views over the same services as the pages."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import admin_contests, views  # noqa: E402,F401
