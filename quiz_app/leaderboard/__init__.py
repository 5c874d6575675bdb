"""Leaderboards: Redis board operations, SQL fallback, rebuild, the board page."""

from flask import Blueprint

bp = Blueprint("leaderboard", __name__)

from . import cli, views  # noqa: E402,F401
