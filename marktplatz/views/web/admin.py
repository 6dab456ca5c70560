"""Administration in the browser (admins): users, networks, municipalities, reference data, audit log."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
