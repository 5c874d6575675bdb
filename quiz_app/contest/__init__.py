"""Contests: drawing, attempts, scoring (services) and the citizen's quiz pages."""

from flask import Blueprint

bp = Blueprint("contest", __name__)

from . import cli, views  # noqa: E402,F401
