"""Question bank: the CSV/XLSX format, import and export, organizer pages."""

from flask import Blueprint

bp = Blueprint("bank", __name__)

from . import cli, views  # noqa: E402,F401
