"""Django settings for Hemiscope: environment first, strict, with local defaults that work.

Only ``DATABASE_URL`` and ``REDIS_URL`` have no default: ``make demo`` / ``make test`` start
project-private PostgreSQL and Redis servers and set them (see ``hemiscope/services.py``).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from hemiscope import env, networks

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.env_bool("DEBUG", False)

SECRET_KEY = env.env_str("SECRET_KEY", None)
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set (it is required when DEBUG is off)")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is not set (it is required when DEBUG is off)")
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", [])

# Production must say which chain it indexes: a forgotten variable silently serving devnet
# pages (and installing the devnet tooling) is exactly the mistake this refuses.
if not DEBUG and env.env_str("HEMI_NETWORK", None) is None:
    raise ImproperlyConfigured(
        f"HEMI_NETWORK is not set (it is required when DEBUG is off: one of {', '.join(networks.NETWORK_NAMES)})"
    )
HEMI_NETWORK = env.env_choice("HEMI_NETWORK", networks.NETWORK_NAMES, "devnet")
# Validate the network's overrides now so a bad value fails at start-up, not in a worker.
networks.resolve(HEMI_NETWORK, BASE_DIR)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_htmx",
    "indexer",
    "indexer.bitcoin",
    "indexer.hemi",
    "indexer.crosschain",
    "explorer",
    "csp",
]
# The devnet app (its management commands `devnet` and `demo`, its actors and node launchers)
# is development tooling: only a devnet deployment loads it.
if HEMI_NETWORK == "devnet":
    INSTALLED_APPS.append("devnet")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside WhiteNoise so static files carry the headers too; outside the throttle so 429s do.
    "csp.middleware.CSPMiddleware",
    "hemiscope.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware: CORS headers go on every /api/ answer, redirects and errors too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Styled 400/404 pages for what the explorer's views raise, with DEBUG on or off.
    "explorer.middleware.ExplorerErrorsMiddleware",
    # After URL resolution (it works in process_view): DRF views are throttled by DRF itself.
    "hemiscope.throttling.ThrottleMiddleware",
]

ROOT_URLCONF = "hemiscope.urls"
WSGI_APPLICATION = "hemiscope.wsgi.application"
ASGI_APPLICATION = "hemiscope.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "explorer.context.network",
            ],
        },
    }
]

# --- Services ---------------------------------------------------------------------------------

_database_url = env.env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
try:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from exc
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
# A database host that drops packets must not hold a web thread (or /healthz) for minutes.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.env_int(
    "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
)
# A read replica for pages and the API (hemiscope/dbrouter.py): GET/HEAD requests read there,
# the indexers and workers always read the primary.
_replica_url = env.env_url("DATABASE_REPLICA_URL", None, schemes=("postgres", "postgresql"))
if _replica_url:
    DATABASES["replica"] = dj_database_url.parse(_replica_url, conn_max_age=60, conn_health_checks=True)
    DATABASES["replica"]["ENGINE"] = "django.db.backends.postgresql"
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = DATABASES["default"]["OPTIONS"][
        "connect_timeout"
    ]
    # Tests create no second database: the replica alias reads the test database.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["hemiscope.dbrouter.ReplicaRouter"]
    # Outermost but one: everything a GET/HEAD request reads, middleware included, is routed.
    MIDDLEWARE.insert(1, "hemiscope.dbrouter.ReplicaReadsMiddleware")
# This process's DATABASE_URL (and DATABASE_REPLICA_URL) go through a transaction-mode pooler
# (PgBouncer): no server-side cursors (a cursor would outlive the transaction its server
# connection was lent for) and no prepared statements (Django's default, pinned here). The
# indexer writers refuse a pooled connection whatever this says (indexer/core/locks.py).
DATABASE_TRANSACTION_POOLING = env.env_bool("DATABASE_TRANSACTION_POOLING", False)
if DATABASE_TRANSACTION_POOLING:
    for _alias in DATABASES.values():
        _alias["DISABLE_SERVER_SIDE_CURSORS"] = True
        _alias["OPTIONS"]["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))

# Short socket timeouts: the cache holds throttle counters and health readings, and a stalled
# Redis must degrade those (they fail open) rather than hang every request.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Indexing tasks are idempotent, so redelivery after a crash is safe and wanted.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis has no real acknowledgement: a message a worker took stays "unacked" in Redis until its
# task ends (acks_late), and only after this many seconds does a worker hand it out again - the
# redelivery that reruns a SIGKILLed worker's task. kombu's default is an hour (a killed
# backfill then stalled for an hour). Keep it above CELERY_TASK_TIME_LIMIT and the longest
# retry countdown (300 s), or a task still running is delivered twice (harmless, every task is
# idempotent, but wasted work).
BROKER_VISIBILITY_TIMEOUT_SECONDS = env.env_int(
    "BROKER_VISIBILITY_TIMEOUT_SECONDS", CELERY_TASK_TIME_LIMIT + 60, minimum=1
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_SECONDS,
    # How often a worker looks for messages past that timeout (kombu's default: every 100 s).
    "unacked_restore_interval": max(1, min(10, BROKER_VISIBILITY_TIMEOUT_SECONDS // 4)),
    "unacked_restore_throttle": 1,
}
CELERY_RESULT_EXPIRES = 3600
# Seconds between tip-following runs (each run takes a lock, so overlapping runs just skip).
FOLLOW_INTERVAL_SECONDS = env.env_float("FOLLOW_INTERVAL_SECONDS", 2.0, minimum=0.1)
# Seconds between the worker's heartbeat / node-tip readings that /healthz and /metrics show.
HEARTBEAT_SECONDS = env.env_float("HEARTBEAT_SECONDS", 15.0, minimum=1.0)
CELERY_BEAT_SCHEDULE = {
    "follow-bitcoin": {"task": "indexer.bitcoin.tasks.follow_tip", "schedule": FOLLOW_INTERVAL_SECONDS},
    "follow-hemi": {"task": "indexer.hemi.tasks.follow_tip", "schedule": FOLLOW_INTERVAL_SECONDS},
    # Durable follow-up work (indexer.core.work): commits nudge it too, but a lost nudge must
    # cost at most one interval.
    "drain-work": {"task": "indexer.crosschain.tasks.drain_work", "schedule": FOLLOW_INTERVAL_SECONDS},
    # Rows without a stored verdict (a backfill below a cursor): swept every few minutes.
    "sweep-verdicts": {"task": "explorer.tasks.sweep_verdicts", "schedule": 300.0},
    # A reading that waited longer than its period in a backed-up queue is worthless: expire it.
    "heartbeat": {
        "task": "hemiscope.heartbeat",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    },
    "node-tips": {
        "task": "hemiscope.record_node_tips",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    },
    # The reserve verdict banners and /healthz read (explorer/reserves.py): computed here, so no
    # request pays for its aggregates.
    "reserves": {
        "task": "explorer.refresh_reserves",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    },
    # The /charts and /reserves history numbers (explorer/chart_cache.py), likewise.
    "charts": {
        "task": "explorer.tasks.refresh_charts",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    },
}
# Past one worker (README "Scaling past one machine"): each chain's follow and backfill tasks on
# a queue of its own ("bitcoin", "hemi") and the durable work drain on "work", so a worker per
# queue runs each chain's single writer beside the others. Off: everything on the default
# queue, which one worker consumes (the Procfile's).
CELERY_QUEUES_PER_CHAIN = env.env_bool("CELERY_QUEUES_PER_CHAIN", False)
if CELERY_QUEUES_PER_CHAIN:
    CELERY_TASK_ROUTES = {
        "indexer.bitcoin.tasks.*": {"queue": "bitcoin"},
        "indexer.hemi.tasks.*": {"queue": "hemi"},
        "indexer.crosschain.tasks.*": {"queue": "work"},
    }
# Work kinds whose handlers live above indexer/ (indexer.crosschain.handlers drains them too):
# stored verdicts refresh from the chain.changed items every cursor move records.
WORK_HANDLERS = ["explorer.verdict_store.handlers"]
# Audit report files (explorer/reports/jobs.py): written by the worker, served by the web app, so
# both must reach this directory (docker-compose.yml shares a volume); deleted REPORTS_TTL_SECONDS
# after they are done, and a report job may run REPORTS_TIME_LIMIT_SECONDS.
REPORTS_DIR = Path(env.env_str("REPORTS_DIR", str(BASE_DIR / "var" / "reports")))
REPORTS_TTL_SECONDS = env.env_int("REPORTS_TTL_SECONDS", 86_400, minimum=60)
REPORTS_TIME_LIMIT_SECONDS = env.env_int("REPORTS_TIME_LIMIT_SECONDS", 3600, minimum=60)
CELERY_BEAT_SCHEDULE["purge-reports"] = {"task": "explorer.tasks.purge_reports", "schedule": 3600.0}
# Tasks outside the Django apps' tasks modules (heartbeat, node tips, the task-failure counter).
CELERY_IMPORTS = ["hemiscope.telemetry"]
# Blocks fetched per backfill batch (one short DB transaction per block inside a batch).
BITCOIN_BATCH_SIZE = env.env_int("BITCOIN_BATCH_SIZE", 50, minimum=1)
# Read the outputs each stored Bitcoin transaction spends (its fee, Esplora's vin[].prevout)
# from the source after each block: one lookup per spent transaction, served by the node's tx
# index. Off: those fields read null (a busy testnet block through a public Esplora would
# cost thousands of requests).
BITCOIN_KEEP_PREVOUTS = env.env_bool("BITCOIN_KEEP_PREVOUTS", True)
HEMI_BATCH_SIZE = env.env_int("HEMI_BATCH_SIZE", 100, minimum=1)
# RPC clients (indexer.core.http): a TOTAL deadline per call - connect, send and every byte of
# the reply - and the largest reply read (a larger batch is fetched in halves).
HEMI_RPC_TIMEOUT_SECONDS = env.env_float("HEMI_RPC_TIMEOUT_SECONDS", 30.0, minimum=0.1)
BITCOIN_RPC_TIMEOUT_SECONDS = env.env_float("BITCOIN_RPC_TIMEOUT_SECONDS", 120.0, minimum=0.1)
RPC_MAX_REPLY_BYTES = env.env_int("RPC_MAX_REPLY_MB", 128, minimum=1) * (1 << 20)
# The deepest reorg each indexer undoes by itself (blocks it would orphan). A deeper one is
# refused - nothing undone, an alert on /healthz and the home page - until an operator looks.
BITCOIN_MAX_REORG_DEPTH = env.env_int("BITCOIN_MAX_REORG_DEPTH", 1000, minimum=1)
HEMI_MAX_REORG_DEPTH = env.env_int("HEMI_MAX_REORG_DEPTH", 10_000, minimum=1)
# How often live explorer pages poll; 0 derives it from Hemi's block time (never below
# FOLLOW_INTERVAL_SECONDS: the database cannot change faster than the indexers write).
EXPLORER_POLL_SECONDS = env.env_float("EXPLORER_POLL_SECONDS", 0.0, minimum=0.0)

# --- HTTP, static files, security --------------------------------------------------------------

STATIC_URL = "static/"
# Where collectstatic writes (and WhiteNoise serves from, when DEBUG is off).
STATIC_ROOT = Path(env.env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    }
}

# In development gunicorn serves files straight from the app/static directories.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
USE_I18N = False

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    # Production sits behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env.env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed, and /metrics scraped, over plain HTTP from inside the deployment.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# Content-Security-Policy (django-csp): nothing inline, nothing from elsewhere. Templates keep
# script and style in files under static/ (tests/foundation/test_template_lint.py enforces it);
# htmx's injected indicator <style> is turned off through <meta name="htmx-config">.
# When drf-spectacular's Swagger UI arrives with the API, the plan is its split view
# (SpectacularSwaggerSplitView: the init script served as a separate same-origin file) plus a
# template override without inline style, so this policy needs no 'unsafe-inline' for it either.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features no page of ours uses, switched off (hemiscope/security.py sends it).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "magnetometer",
        "microphone", "midi", "payment", "usb",
    )
}

# --- Throttling (anonymous traffic: nobody logs in) --------------------------------------------

# One rate for anonymous HTML pages and the API, each its own bucket per client address,
# counted in the default cache. "N/s", "N/min", "N/hour" or "N/day".
THROTTLE_ANON_RATE = env.env_rate("THROTTLE_ANON_RATE", "120/min")
# How many reverse proxies append to X-Forwarded-For in front of the app. 0: the header is
# ignored (anyone can forge it) and the TCP peer is the client; N: the Nth entry from the right.
NUM_PROXIES = env.env_int("NUM_PROXIES", 0, minimum=0)

# block/:hash/raw of the Esplora API reads whole blocks from the Bitcoin source: its own lower
# rate per client, and a cache so a popular block costs the source one read.
ESPLORA_RAW_BLOCK_RATE = env.env_rate("ESPLORA_RAW_BLOCK_RATE", "10/min")
ESPLORA_RAW_BLOCK_CACHE_SECONDS = env.env_int("ESPLORA_RAW_BLOCK_CACHE_SECONDS", 86_400, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    # Every API error is {"error", "status"} JSON (400 naming the parameter, 404, 405, 429).
    "EXCEPTION_HANDLER": "explorer.api.v1.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every viewset inherits this; the class reads THROTTLE_ANON_RATE and NUM_PROXIES above.
    "DEFAULT_THROTTLE_CLASSES": ["hemiscope.throttling.AnonApiThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": THROTTLE_ANON_RATE, "html": THROTTLE_ANON_RATE},
    "NUM_PROXIES": NUM_PROXIES,
}

# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ from vendored assets (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Hemiscope API",
    "DESCRIPTION": (
        "Read-only REST API of Hemiscope, the Hemi explorer and provenance auditor. EVM hashes and "
        "addresses are 0x-hex; Bitcoin hashes are in DISPLAY byte order (reversed digest, no 0x); "
        "uint256 and satoshi amounts are decimal strings. Lists are keyset pages: pass "
        "`next_page_params.cursor` back as `cursor` (or follow `next`). Errors are JSON "
        "`{error, status}`; a bad parameter is a 400 naming it."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": False,
    "ENUM_NAME_OVERRIDES": {
        "FinalityStageEnum": "explorer.finality.STAGES",
        "VerdictEnum": "explorer.api.v1.serializers.common.VERDICTS",
        "ReportFormatEnum": "explorer.reports.request.FORMATS",
    },
    "DISABLE_ERRORS_AND_WARNINGS": False,
}

# CORS: the API is public and read-only, so any origin may GET it; no credentials (we use none).
# /api (the Etherscan-style dialect), /api/v1/, /api/v2/ and the Esplora subset.
CORS_URLS_REGEX = r"^/(esplora/)?api(/.*)?$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ("ETag", "Retry-After")

# --- Health and metrics ------------------------------------------------------------------------

# A worker heartbeat older than this is a /healthz warning (the beat task writes one every
# HEARTBEAT_SECONDS). Lag warnings: blocks between the node's tip and our cursor.
HEALTH_WORKER_STALE_SECONDS = env.env_int("HEALTH_WORKER_STALE_SECONDS", 120, minimum=1)
HEALTH_MAX_LAG_BITCOIN_BLOCKS = env.env_int("HEALTH_MAX_LAG_BITCOIN_BLOCKS", 6, minimum=0)
HEALTH_MAX_LAG_HEMI_BLOCKS = env.env_int("HEALTH_MAX_LAG_HEMI_BLOCKS", 100, minimum=0)
# Data alerts shown on /healthz as warnings (status stays 200): dotted paths of functions
# returning a list of hemiscope.health.Warning. Later checks (integrity, reserves) add theirs.
HEALTH_WARNING_SOURCES = [
    "hemiscope.health.worker_warnings",
    "hemiscope.health.lag_warnings",
    # Refused chains, reorgs past the limits, blocks that failed re-hashing (IndexerAlert rows).
    "hemiscope.indexer_alerts.health_warnings",
    # hemiBTC supply not matched by the vaults' Bitcoin (explorer/reserves.py).
    "explorer.reserves.health_warnings",
]
# /metrics answers only these client addresses (IPs or networks) or a bearer token; with
# neither configured it is a 404. DEBUG allows loopback.
METRICS_ALLOWED_IPS = env.env_networks("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"] if DEBUG else [])
METRICS_BEARER_TOKEN = env.env_str("METRICS_BEARER_TOKEN", None)

# --- Logging: one JSON object per line on stdout ----------------------------------------------

LOG_LEVEL = env.env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "hemiscope.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}
