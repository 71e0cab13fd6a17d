"""Tandem settings: everything that differs between machines comes from the environment.

Embedded default (no environment): SQLite in var/, the django-q2 ORM broker, outbox channels.
At scale: DATABASE_URL (PostgreSQL), REDIS_URL (django-q2 Redis broker), SECRET_KEY, ALLOWED_HOSTS.
"""

import base64
import hashlib
import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# Demo mode seeds demo users with printed passwords; it can never be on without DEBUG.
TANDEM_DEMO = DEBUG and env.bool("TANDEM_DEMO", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-tandem-development-only-key-never-in-production"  # noqa: S105
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")):
    # Django's own rule (security.W009), enforced instead of warned about: sessions, password
    # resets and signed values are only as strong as this key.
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use at least 50 characters with at least 5 different ones, not starting "
        "with 'django-insecure-'. Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )

# Rotation: the new key in SECRET_KEY, the old one here until sessions and reset links signed
# with it have expired (README, "Backups and upgrades").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# Channel credentials are encrypted at rest with these Fernet keys (comma-separated, newest
# first; `manage.py credentials_reencrypt` moves everything to the newest). Generate one with:
# python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'
TANDEM_ENCRYPTION_KEYS = env.list("TANDEM_ENCRYPTION_KEYS", default=[])
if not TANDEM_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "TANDEM_ENCRYPTION_KEYS must be set when DEBUG is off (channel credentials are encrypted with it). "
            "Generate a key with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    # Development and tests: a key derived from SECRET_KEY, so credentials saved under `make
    # run` survive restarts without any setup (and are lost if SECRET_KEY changes).
    TANDEM_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"tandem-credentials:" + SECRET_KEY.encode()).digest()).decode()
    ]
for _position, _key in enumerate(TANDEM_ENCRYPTION_KEYS, start=1):
    try:
        if len(base64.urlsafe_b64decode(_key.strip().encode())) != 32:
            raise ValueError
    except ValueError:
        # The message names the position, never the key.
        raise ImproperlyConfigured(
            f"TANDEM_ENCRYPTION_KEYS: key {_position} is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    # Second factor (TOTP and recovery codes) and sign-in lockouts; accounts comes after them
    # so that its admin replaces theirs.
    "django_otp",
    "accounts.apps.AuthenticatorAppsConfig",
    "accounts.apps.RecoveryCodesConfig",
    "accounts.apps.SignInAttemptsConfig",
    "accounts",
    "publisher",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight after the security headers: a stylesheet needs no session or language.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads the body (CSRF reads the form): an oversize upload is refused unread.
    "publisher.request_limits.RequestBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A password-only session of someone who owes a second factor is held at that step.
    "accounts.middleware.SecondFactorMiddleware",
    # After authentication: a signed-in user's preferred language beats Accept-Language.
    "accounts.middleware.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tandem.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, cluster and dispatcher share one file: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock up front instead of failing on upgrade, and the
    # timeout makes a busy writer wait instead of raising "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# django-axes first: a locked-out user or address never reaches the password check.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.TandemBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English is the source language; the interface ships complete in French and Dutch.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Brussels"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
# collectstatic (make serve) writes compressed copies under hashed names that WhiteNoise serves
# with far-future caching; in debug the apps' files are served as they are, unhashed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Uploaded images are re-encoded by Tandem; nothing uploaded is ever executable or served raw.
FILE_UPLOAD_PERMISSIONS = 0o640
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

LOGIN_URL = "admin:login"

# --- Security (production values when DEBUG is off; `check --deploy` is clean) ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and scrapers inside the deployment speak plain http to the process: answer them
# rather than redirect (they carry no session; readiness details and metrics need a token or
# an allowed network anyway).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Staff sign-in: second factor and lockout ---------------------------------------------
# Staff who may approve, administer channels or users, or hold API tokens must use a second
# factor (TOTP, with recovery codes); optional in the demo.
TANDEM_REQUIRE_2FA = env.bool("TANDEM_REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("TANDEM_OTP_ISSUER", default="Tandem")
TANDEM_RECOVERY_CODES = 10
# Failed sign-ins lock the user name and, separately, the address they came from.
AXES_FAILURE_LIMIT = env.int("TANDEM_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("TANDEM_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lockout do not extend it: otherwise anyone could keep a colleague locked out for good.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.login_lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.login_locks.client_address"
# Tandem registers its own admin for the attempts (translated, with an unlock action).
AXES_ENABLE_ADMIN = False
# Behind N reverse proxies, the client is the Nth address from the right of X-Forwarded-For.
TANDEM_TRUSTED_PROXIES = env.int("TANDEM_TRUSTED_PROXIES", default=0)

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tandem@localhost")

# --- Task queue -------------------------------------------------------------------
# django-q2 only executes; Tandem's dispatcher decides when (see publisher/delivery/dispatch.py).
# max_attempts=1 because our code decides retries from the network's answer, and
# retry > timeout so the ORM broker never re-delivers a task that is still running.
REDIS_URL = env.str("REDIS_URL", default="")
# A publish task hands its deliveries' calls to its worker process's sender (bounded per
# process and per network) and records each outcome as its call ends; short leases are
# renewed while the calls run, so a killed worker's deliveries come back within the lease
# (TANDEM_SEND_LEASE_SECONDS), not after this timeout.
# Urgent alerts get their own queue and cluster (Q_CLUSTER_NAME=urgent, see Procfile) so
# they never wait behind routine batches; django-q2's own scheduler is not used for posts.
Q_CLUSTER: dict[str, object] = {
    "name": "tandem",
    "workers": env.int("TANDEM_WORKERS", default=2),
    "timeout": 180,
    "retry": 240,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 250,
    # The dispatcher hands a burst over TANDEM_DISPATCH_LEAD_SECONDS early; a 0.1 s poll of
    # the ORM broker (SQLite, the embedded default) leaves most of that lead to the worker.
    "poll": 0.1,
    # The heading of django-q2's admin pages (its app's verbose name), in the reader's language.
    "label": _("Tasks"),
    "ALT_CLUSTERS": {
        # The urgent cluster polls the ORM broker every 20 ms (Redis blocks instead): an alert
        # must not wait a routine 200 ms poll before it starts.
        "urgent": {
            "workers": env.int("TANDEM_URGENT_WORKERS", default=2),
            "queue_limit": 4,
            "scheduler": False,
            "poll": 0.02,
        },
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    # django-q2's Redis broker, except that a pusher rides out a Redis outage instead of
    # exiting and waiting to be respawned (publisher/delivery/brokers.py).
    Q_CLUSTER["broker_class"] = "publisher.delivery.brokers.ResilientRedis"
else:
    Q_CLUSTER["orm"] = "default"

# The cache holds the API's per-token request budgets: shared by every web process through
# Redis at scale; per process (local memory) on the embedded default.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tandem",
            # An unreachable Redis answers within a second; the throttle then fails open.
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    # JSON only (checked for size and nesting depth before it is parsed); the two endpoints
    # that take an image say so themselves (multipart).
    "DEFAULT_PARSER_CLASSES": ["publisher.api.parsers.BoundedJSONParser"],
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tandem API",
    "DESCRIPTION": (
        "Bilingual scheduled publishing and urgent alerts. Authenticate with `Authorization: Bearer <token>`. "
        "Every POST accepts an `Idempotency-Key`. Errors are RFC 9457 problem details in the language of "
        "`Accept-Language` (en, fr, nl)."
    ),
    "VERSION": "1.0.0",
    # Upload fields become binary in requests, and read-only fields leave the request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "MessageStateEnum": "publisher.models.MessageState",
        "DeliveryStateEnum": "publisher.models.DeliveryState",
        "MessageUrgencyEnum": "publisher.models.Urgency",
        "CapUrgencyEnum": "publisher.api.serializers.CAP_URGENCIES",
        "LanguageEnum": "publisher.models.Language",
    },
    # The browsable docs work offline: Swagger UI and ReDoc come from drf-spectacular-sidecar.
    # Errors documented as application/problem+json everywhere; links between create and actions.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "publisher.api.schema.problem_responses_and_links",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Product settings (TANDEM_*) -------------------------------------------------------
TANDEM_OUTBOX_DIR = env.path("TANDEM_OUTBOX_DIR", default=str(VAR_DIR / "outbox"))
TANDEM_PUBLIC_URL = env.str("TANDEM_PUBLIC_URL", default="http://127.0.0.1:8000")
TANDEM_MISSED_GRACE_SECONDS = env.int("TANDEM_MISSED_GRACE_SECONDS", default=3600)
# Dispatch engine (publisher/delivery/dispatch.py, publisher/delivery/publishing.py).
TANDEM_URGENT_QUEUE = env.str("TANDEM_URGENT_QUEUE", default="urgent")  # "" = the default queue
TANDEM_DISPATCH_BATCH = env.int("TANDEM_DISPATCH_BATCH", default=1000)  # rows per claim
TANDEM_TASK_BATCH = env.int("TANDEM_TASK_BATCH", default=500)  # at most this many deliveries per task
TANDEM_TASK_FANOUT = env.int("TANDEM_TASK_FANOUT", default=Q_CLUSTER["workers"])  # tasks a burst is split into
TANDEM_PUBLISH_CONCURRENCY = env.int("TANDEM_PUBLISH_CONCURRENCY", default=100)  # network calls at once per worker
TANDEM_PUBLISH_NETWORK_CONCURRENCY = env.int("TANDEM_PUBLISH_NETWORK_CONCURRENCY", default=10)  # per worker and host
TANDEM_DISPATCH_LEAD_SECONDS = env.float("TANDEM_DISPATCH_LEAD_SECONDS", default=1.0)  # hand-over ahead of due
# A big burst is handed over earlier, so the workers have rendered it by its due time: this
# much more lead per 1,000 deliveries due together beyond those the base lead covers (1,000
# on two workers, measured by bench/lateness.py), up to the maximum.
TANDEM_DISPATCH_LEAD_COVERS = env.int("TANDEM_DISPATCH_LEAD_COVERS", default=1000)
TANDEM_DISPATCH_LEAD_PER_THOUSAND = env.float("TANDEM_DISPATCH_LEAD_PER_THOUSAND", default=0.5)
TANDEM_DISPATCH_LEAD_MAX_SECONDS = env.float("TANDEM_DISPATCH_LEAD_MAX_SECONDS", default=10.0)
# While a burst is still ahead, a task takes and renders the burst's deliveries that no
# worker holds yet, up to this many, instead of leaving them in tasks queued behind it.
TANDEM_TASK_ABSORB_MAX = env.int("TANDEM_TASK_ABSORB_MAX", default=10000)
TANDEM_DISPATCH_POLL_SECONDS = env.float("TANDEM_DISPATCH_POLL_SECONDS", default=5.0)  # SQLite: at most 1
TANDEM_QUEUE_LEASE_SECONDS = env.int("TANDEM_QUEUE_LEASE_SECONDS", default=60)
# A hand-over the broker refused (Redis down) is claimed again after this many seconds.
TANDEM_HAND_OVER_RETRY_SECONDS = env.float("TANDEM_HAND_OVER_RETRY_SECONDS", default=0.5)
# SQLite has no NOTIFY: each dispatcher listens on a datagram socket in this folder.
TANDEM_DISPATCH_WAKE_DIR = env.path("TANDEM_DISPATCH_WAKE_DIR", default=str(VAR_DIR / "dispatch-wake"))
# A worker holds its deliveries with a short lease renewed every heartbeat while it works
# on them: a killed worker's deliveries are taken back by the dispatcher within the lease.
TANDEM_SEND_LEASE_SECONDS = env.float("TANDEM_SEND_LEASE_SECONDS", default=7.0)
TANDEM_LEASE_HEARTBEAT_SECONDS = env.float("TANDEM_LEASE_HEARTBEAT_SECONDS", default=2.0)
# run_cluster on SIGTERM: calls still running after this many seconds are killed (their
# deliveries come back through their lease). Below honcho's 5 s before its SIGKILL.
TANDEM_CLUSTER_STOP_SECONDS = env.float("TANDEM_CLUSTER_STOP_SECONDS", default=4.0)
TANDEM_MAX_ATTEMPTS = env.int("TANDEM_MAX_ATTEMPTS", default=6)
TANDEM_RETRY_BASE_SECONDS = env.float("TANDEM_RETRY_BASE_SECONDS", default=10.0)
TANDEM_RETRY_MAX_SECONDS = env.float("TANDEM_RETRY_MAX_SECONDS", default=900.0)
TANDEM_RECURRENCE_HORIZON_DAYS = env.int("TANDEM_RECURRENCE_HORIZON_DAYS", default=35)
TANDEM_RECURRENCE_EXTEND_SECONDS = env.int("TANDEM_RECURRENCE_EXTEND_SECONDS", default=300)
# Days of delivery history `manage.py prune_history` keeps when run without --days; 0 = no retention.
TANDEM_RETENTION_DAYS = env.int("TANDEM_RETENTION_DAYS", default=0)
# Paid promotion (Meta Marketing API): the ad account's monthly budget (a channel's config
# `boost_monthly_budget_eur` overrides it), the most one promotion may cost, a dry run that
# builds every request and sends none, and how often status and results are read back.
TANDEM_BOOST_MONTHLY_BUDGET_EUR = env.float("TANDEM_BOOST_MONTHLY_BUDGET_EUR", default=200.0)
TANDEM_BOOST_MAX_EUR = env.float("TANDEM_BOOST_MAX_EUR", default=100.0)
TANDEM_BOOST_DRY_RUN = env.bool("TANDEM_BOOST_DRY_RUN", default=False)
TANDEM_BOOST_REFRESH_SECONDS = env.float("TANDEM_BOOST_REFRESH_SECONDS", default=900.0)
# Replies and mentions are personal data: `manage.py inbox_prune` (and each `inbox_poll` pass)
# deletes inbox items fetched longer ago than this many days.
TANDEM_INBOX_RETENTION_DAYS = env.int("TANDEM_INBOX_RETENTION_DAYS", default=90)
# Seconds between two fetches of one channel's replies and mentions (rate limits may push it back).
TANDEM_INBOX_FETCH_SECONDS = env.float("TANDEM_INBOX_FETCH_SECONDS", default=120.0)
# Networks that give comments post by post (Facebook) are asked about posts this recent.
TANDEM_INBOX_WATCH_DAYS = env.int("TANDEM_INBOX_WATCH_DAYS", default=14)
# Pages one fetch reads at most; the cursor carries the rest over to the next fetch.
TANDEM_INBOX_PAGES = env.int("TANDEM_INBOX_PAGES", default=20)
# Where possible tips (replies to a witness appeal) are forwarded; empty: forwarding is refused.
TANDEM_INVESTIGATOR_EMAILS = env.list("TANDEM_INVESTIGATOR_EMAILS", default=[])
# Meta's language targeting ids (`locales`, Targeting Search `type=adlocale`) per variant
# language, used where two variants reach the same postal codes (Brussels, facilities). A
# JSON object, e.g. {"fr": [1003], "nl": [14, 83]}: an operator corrects an id Meta renumbers
# without a release. Languages left out keep the defaults (publisher/territory/boost_targeting.py).
TANDEM_BOOST_LOCALES = env.json("TANDEM_BOOST_LOCALES", default={})
if not isinstance(TANDEM_BOOST_LOCALES, dict) or not all(
    isinstance(ids, list) and ids and all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    for ids in TANDEM_BOOST_LOCALES.values()
):
    raise ImproperlyConfigured(
        'TANDEM_BOOST_LOCALES must be a JSON object of language → list of Meta locale ids, e.g. {"fr": [1003]}.'
    )
TANDEM_MAX_UPLOAD_BYTES = env.int("TANDEM_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)  # one image file
# A whole request body (an image plus the form around it): refused from its Content-Length, unread.
TANDEM_UPLOAD_MAX_BYTES = env.int("TANDEM_UPLOAD_MAX_BYTES", default=25 * 1024 * 1024)
TANDEM_MAX_IMAGE_PIXELS = env.int("TANDEM_MAX_IMAGE_PIXELS", default=50_000_000)
# Pixels × bands an upload may decode to (publisher/media/images.py): bounds ingest memory and time.
TANDEM_MAX_IMAGE_SAMPLES = env.int("TANDEM_MAX_IMAGE_SAMPLES", default=90_000_000)
# Below this many pixels on the longer side an upload is accepted with a warning.
TANDEM_MIN_IMAGE_SIDE = env.int("TANDEM_MIN_IMAGE_SIDE", default=1080)
# Network calls: seconds to connect, seconds to wait for an answer (a channel's config may override).
# A credential expiring within this many seconds is refreshed by the routine task (the
# dispatcher looks every TANDEM_CREDENTIAL_REFRESH_EVERY_SECONDS).
TANDEM_CREDENTIAL_REFRESH_MARGIN_SECONDS = env.int("TANDEM_CREDENTIAL_REFRESH_MARGIN_SECONDS", default=900)
TANDEM_CREDENTIAL_REFRESH_EVERY_SECONDS = env.float("TANDEM_CREDENTIAL_REFRESH_EVERY_SECONDS", default=60.0)
# OAuth connect flows (publisher/workflow/oauth.py): the state and PKCE verifier of a
# sign-in started from the admin hold this long, in the session of who started it.
TANDEM_OAUTH_STATE_SECONDS = env.int("TANDEM_OAUTH_STATE_SECONDS", default=600)
# X: the OAuth 2.0 client of Tandem's app in the X developer console (confidential client:
# the secret authenticates the token and revoke calls).
TANDEM_X_CLIENT_ID = env.str("TANDEM_X_CLIENT_ID", default="")
TANDEM_X_CLIENT_SECRET = env.str("TANDEM_X_CLIENT_SECRET", default="")
TANDEM_X_AUTHORIZE_URL = env.str("TANDEM_X_AUTHORIZE_URL", default="https://x.com/i/oauth2/authorize")
# Meta (Facebook Pages, Instagram professional accounts): Tandem's Meta app.
TANDEM_META_APP_ID = env.str("TANDEM_META_APP_ID", default="")
TANDEM_META_APP_SECRET = env.str("TANDEM_META_APP_SECRET", default="")
TANDEM_META_DIALOG_URL = env.str("TANDEM_META_DIALOG_URL", default="https://www.facebook.com/v21.0/dialog/oauth")
TANDEM_META_GRAPH_URL = env.str("TANDEM_META_GRAPH_URL", default="https://graph.facebook.com/v21.0")
# After "rotate", a webhook's former secret still signs (beside the new one) this long.
TANDEM_WEBHOOK_ROTATION_OVERLAP_HOURS = env.int("TANDEM_WEBHOOK_ROTATION_OVERLAP_HOURS", default=24)
TANDEM_CHANNEL_CONNECT_TIMEOUT = env.float("TANDEM_CHANNEL_CONNECT_TIMEOUT", default=5.0)
TANDEM_CHANNEL_TIMEOUT = env.float("TANDEM_CHANNEL_TIMEOUT", default=30.0)
# CAP <sender>: globally unique; defaults to tandem@<host of TANDEM_PUBLIC_URL>.
TANDEM_CAP_SENDER = env.str("TANDEM_CAP_SENDER", default="")
TANDEM_CAP_SENDER_NAME = env.str("TANDEM_CAP_SENDER_NAME", default="")
TANDEM_FEED_AUTHOR = env.str("TANDEM_FEED_AUTHOR", default="Tandem")
# Outgoing-request policy (publisher/channels/netpolicy.py): channels connect over https to
# public addresses only. Networks listed here (comma-separated CIDRs) are allowed anyway, e.g.
# an internal webhook receiver or SMTP relay; in debug loopback is allowed so the demo and
# the fake networks work. Plain http is allowed in debug only.
TANDEM_CHANNEL_ALLOWED_NETWORKS = env.list(
    "TANDEM_CHANNEL_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"] if DEBUG else []
)
try:
    for _network in TANDEM_CHANNEL_ALLOWED_NETWORKS:
        ipaddress.ip_network(_network.strip(), strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"TANDEM_CHANNEL_ALLOWED_NETWORKS: {exc}") from exc
# Plain http outside debug only for a receiver that needs it, together with its network above.
TANDEM_CHANNEL_HTTP_ALLOWED = env.bool("TANDEM_CHANNEL_HTTP_ALLOWED", default=DEBUG)
# Extra channel adapters: {"kind": "dotted.path.Adapter"}; merged over the built-in registry.
TANDEM_CHANNEL_ADAPTERS: dict[str, str] = env.dict("TANDEM_CHANNEL_ADAPTERS", default={})
# Readiness (/readyz): a dispatcher heartbeat older than this fails it; a channel waiting this
# long for reconnection is listed as a warning. Details only for a valid API token or a client
# in these networks (comma-separated CIDRs).
TANDEM_READY_DISPATCHER_SECONDS = env.float("TANDEM_READY_DISPATCHER_SECONDS", default=30.0)
TANDEM_READY_RECONNECT_HOURS = env.float("TANDEM_READY_RECONNECT_HOURS", default=24.0)
TANDEM_READY_ALLOWED_NETWORKS = env.list("TANDEM_READY_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
try:
    for _network in TANDEM_READY_ALLOWED_NETWORKS:
        ipaddress.ip_network(_network.strip(), strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"TANDEM_READY_ALLOWED_NETWORKS: {exc}") from exc
# REST API request budget per token (DRF rate syntax: "1200/minute").
TANDEM_API_RATE = env.str("TANDEM_API_RATE", default="1200/minute")
# Failed bearer-token attempts allowed per client address; past it, 429 until the window ends.
TANDEM_API_TOKEN_FAILURE_RATE = env.str("TANDEM_API_TOKEN_FAILURE_RATE", default="30/minute")

# --- Metrics and logs -------------------------------------------------------------------
# Counters and histograms are written by every process (web workers, the clusters' forked
# workers, the dispatcher) to its own file here and summed by /metrics (publisher/metrics.py).
# prometheus-client reads the variable when the first metric is made, after these settings
# load: it is put in the environment so that every process, and the ones it starts, agree.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="") or str(VAR_DIR / "metrics")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
try:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR ({PROMETHEUS_MULTIPROC_DIR}) cannot be created: {exc}"
    ) from exc

# "plain": one human line per event; "json": one JSON object per line, for a log shipper.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    # A refused request (4xx) is one line: Django attaches the exception's traceback to
    # PermissionDenied and SuspiciousOperation (a bad Host header) warnings.
    "filters": {"client_errors_brief": {"()": "config.logs.ClientErrorsBrief"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["client_errors_brief"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own defaults print django.* records a second time in debug (its console
        # handler) on top of ours: one handler, one line. The level follows LOG_LEVEL.
        "django": {"handlers": [], "level": "NOTSET"},
        "django.server": {"handlers": ["console"], "level": "NOTSET", "propagate": False},
        # httpx logs every request URL at INFO, and Telegram's URL contains the bot token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
