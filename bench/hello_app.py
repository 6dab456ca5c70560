"""A bare Flask app answering "Hallo": the throughput ceiling of Flask under our gunicorn setup."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    """Return a constant body."""
    return "Hallo"
