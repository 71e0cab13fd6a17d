"""Test settings: the real settings, made fast and hermetic."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: E402, F403
from config.settings import Q_CLUSTER  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="tandem-media-")
TANDEM_OUTBOX_DIR = tempfile.mkdtemp(prefix="tandem-outbox-")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process unless a test starts a real cluster.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
# Every test request comes from 127.0.0.1 and a shared Redis cache is not flushed between
# tests: the failed-token budget is tested with its own addresses (tests/api/test_throttling.py).
TANDEM_API_TOKEN_FAILURE_RATE = "100000/minute"
