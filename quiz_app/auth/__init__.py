"""Accounts: register, log in and out, the session-token check, account CLI."""

from flask import Blueprint

bp = Blueprint("auth", __name__, cli_group="user")

from . import cli, recovery_views, views  # noqa: E402,F401
