"""Gunicorn settings for `make run` and production (override with GUNICORN_* env)."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
# Query strings may carry search terms but never secrets: tokens travel in headers only.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
