"""gunicorn settings for the production start (`make serve`, Procfile.prod).

scripts/serve has checked the environment and set TANDEM_WEB_BIND from HOST and PORT before
this is read. Anything else gunicorn accepts can be added through GUNICORN_CMD_ARGS.
"""

import os

bind = [os.environ.get("TANDEM_WEB_BIND", "127.0.0.1:8000")]
# Sync workers: a request's time is the database and image re-encoding, not waiting on
# clients, which the reverse proxy in front buffers.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# honcho kills whatever still runs 5 s after SIGTERM: requests in flight get 4 s to finish.
graceful_timeout = 4
# An upload is re-encoded inside its request (publisher/images.py): give it time.
timeout = 60
accesslog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
