"""Personal data (PIPL): ranking consent, the data page, account deletion,
and `flask privacy purge` (retention)."""

from flask import Blueprint

bp = Blueprint("privacy", __name__)

from . import cli, views  # noqa: E402,F401
