"""Test settings: the real settings, made fast and hermetic."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DEBUG", "1")
# A test session's metric files (prometheus-client multiprocess mode) live in a folder of its
# own, removed when it ends; the processes its tests start inherit it through the environment
# (and do not make another), so a test can read what a worker process counted.
if not os.environ.get("TANDEM_TEST_METRICS_DIR"):
    os.environ["TANDEM_TEST_METRICS_DIR"] = tempfile.mkdtemp(prefix="tandem-metrics-")
    atexit.register(shutil.rmtree, os.environ["TANDEM_TEST_METRICS_DIR"], ignore_errors=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["TANDEM_TEST_METRICS_DIR"]

from config.settings import *  # noqa: E402, F403
from config.settings import Q_CLUSTER, STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="tandem-media-")
TANDEM_OUTBOX_DIR = tempfile.mkdtemp(prefix="tandem-outbox-")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process unless a test starts a real cluster.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
# Tests run as the demo does (a second factor is optional); the second-factor tests turn it on.
TANDEM_REQUIRE_2FA = False
# The fake networks listen on loopback; tests of the outgoing-request policy override these.
TANDEM_CHANNEL_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
TANDEM_CHANNEL_HTTP_ALLOWED = True
TANDEM_DISPATCH_WAKE_DIR = tempfile.mkdtemp(prefix="tandem-wake-")
# Every test request comes from 127.0.0.1 and a shared Redis cache is not flushed between
# tests: the failed-token budget is tested with its own addresses (tests/api/test_throttling.py).
TANDEM_API_TOKEN_FAILURE_RATE = "100000/minute"
# Templates name static files as in debug (no manifest): tests need no collectstatic; the
# production start's own test (tests/scripts/test_serve.py) runs collectstatic for real.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
STATIC_ROOT = tempfile.mkdtemp(prefix="tandem-static-")
