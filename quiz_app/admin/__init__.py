"""Admin pages (accounts, region populations) and the audit log, under
/admin; `flask regions population`."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", cli_group="regions")

from . import cli, views  # noqa: E402,F401
