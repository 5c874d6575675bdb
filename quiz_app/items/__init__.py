"""Item statistics for organizers: rollups, refresh, pages and the CLI."""

from flask import Blueprint

bp = Blueprint("items", __name__)

from . import cli, views  # noqa: E402,F401
