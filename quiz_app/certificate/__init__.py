"""Certificates: issue, verify, the certificate image and the public verify page."""

from flask import Blueprint

bp = Blueprint("certificate", __name__)

from . import views  # noqa: E402,F401
