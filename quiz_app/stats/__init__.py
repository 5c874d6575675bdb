"""Participation by region for staff: services, pages and exports."""

from flask import Blueprint

bp = Blueprint("stats", __name__, cli_group="stats")

from . import cli, views  # noqa: E402,F401
