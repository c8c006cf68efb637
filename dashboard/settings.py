"""Seamline settings: one file, read from the environment, with defaults that make `make run` work as is."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Where the dev stack keeps its state (data, logs, the generated demo password).
STATE_DIR = Path(env_str("SEAMLINE_STATE_DIR", str(BASE_DIR / ".devstack")))
if not STATE_DIR.is_absolute():
    STATE_DIR = BASE_DIR / STATE_DIR

DEBUG = env_bool("SEAMLINE_DEBUG", True)
SECRET_KEY = env_str("SEAMLINE_SECRET_KEY") or ("dev-only-insecure-key" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SEAMLINE_SECRET_KEY must be set when SEAMLINE_DEBUG is off")
ALLOWED_HOSTS = [h for h in env_str("SEAMLINE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig",  # admin.autodiscover() runs in urls.py: the CLI skips it
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "django_celery_beat",
    "catalog",
    "dashboard",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Seamline's own data lives on the dev primary in database "seamline" (a separate server in production).
PG_HOST = env_str("SEAMLINE_PG_HOST", "127.0.0.1")
PG_PORT = env_int("SEAMLINE_PG_PORT", 54329)
REPLICA_PORT = env_int("SEAMLINE_REPLICA_PORT", 54330)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env_str("SEAMLINE_DB_HOST", PG_HOST),
        "PORT": env_int("SEAMLINE_DB_PORT", PG_PORT),
        "NAME": env_str("SEAMLINE_DB_NAME", "seamline"),
        "USER": env_str("SEAMLINE_DB_USER", "postgres"),
        "PASSWORD": env_str("SEAMLINE_DB_PASSWORD"),
        "CONN_MAX_AGE": env_int("SEAMLINE_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        # named, so that Seamline's own sessions are recognisable in pg_stat_activity (and on its Pools page)
        # and bounded: no statement of Seamline's own runs longer, or waits for a lock longer, than these
        "OPTIONS": {
            "connect_timeout": 5,
            "application_name": "seamline-app",
            "options": f"-c statement_timeout={env_int('SEAMLINE_DB_STATEMENT_TIMEOUT_MS', 60_000)}"
            f" -c lock_timeout={env_int('SEAMLINE_DB_LOCK_TIMEOUT_MS', 10_000)}",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Each process's own memory: rendered fragments of live snapshots (keyed on the snapshot's time, so never stale).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "seamline"}}

REDIS_URL = env_str("SEAMLINE_REDIS_URL", f"redis://127.0.0.1:{env_int('SEAMLINE_REDIS_PORT', 6380)}/0")

# Celery: Redis as broker and result backend; beat reads its schedule from the database.
CELERY_APP = "dashboard.celery.app"  # imported by every tasks module before it declares a task
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# Audits run on a queue of their own (workers: -Q celery,audits), one message at a time per worker process, and are
# acknowledged late; their hard time limit stays below the broker's visibility timeout, after which Redis would
# deliver an unacknowledged message again.
AUDIT_QUEUE = env_str("SEAMLINE_AUDIT_QUEUE", "audits")
AUDIT_SOFT_TIME_LIMIT = env_int("SEAMLINE_AUDIT_SOFT_TIME_LIMIT", 1500)
AUDIT_TIME_LIMIT = env_int("SEAMLINE_AUDIT_TIME_LIMIT", 1800)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("SEAMLINE_BROKER_VISIBILITY_TIMEOUT", 3600)}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# The demo (database "shop" and "payments" on the dev primary) and its traffic simulator.
DEMO_PRIMARY = {"host": PG_HOST, "port": PG_PORT, "user": "postgres"}
DEMO_REPLICA = {"host": PG_HOST, "port": REPLICA_PORT, "user": "postgres"}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SEAMLINE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# plotly.js is served from the installed plotly package (same version as the figures it draws), never from a CDN.
# (found without importing plotly, which every command would otherwise pay for)
_plotly = importlib.util.find_spec("plotly")
if _plotly and _plotly.origin:
    STATICFILES_DIRS.append(("vendor/plotly", Path(_plotly.origin).parent / "package_data"))

# Monitored clusters: every session is read-only with these timeouts (see catalog.monitored).
MONITOR_CONNECT_TIMEOUT = env_int("SEAMLINE_MONITOR_CONNECT_TIMEOUT", 5)
MONITOR_STATEMENT_TIMEOUT_MS = env_int("SEAMLINE_MONITOR_STATEMENT_TIMEOUT_MS", 30_000)
MONITOR_LOCK_TIMEOUT_MS = env_int("SEAMLINE_MONITOR_LOCK_TIMEOUT_MS", 1_000)
MONITOR_APPLICATION_NAME = "seamline"
# Live sampling: each sample's statements are short, so they get a tighter timeout than a catalog sync; the task's
# soft and hard time limits sit above connect timeout + statement timeout.
SAMPLE_STATEMENT_TIMEOUT_MS = env_int("SEAMLINE_SAMPLE_STATEMENT_TIMEOUT_MS", 5_000)
SAMPLE_SOFT_TIME_LIMIT = env_int("SEAMLINE_SAMPLE_SOFT_TIME_LIMIT", 15)
SAMPLE_TIME_LIMIT = env_int("SEAMLINE_SAMPLE_TIME_LIMIT", 20)
HISTORY_RETENTION_DAYS = env_int("SEAMLINE_HISTORY_RETENTION_DAYS", 7)
# How long a page waits for Redis before it says live data is unavailable (seconds).
LIVE_REDIS_TIMEOUT = float(env_str("SEAMLINE_LIVE_REDIS_TIMEOUT", "0.5"))
# Bearer token a Prometheus scraper may send to GET /metrics (API tokens work too); empty: API tokens only.
METRICS_TOKEN = env_str("SEAMLINE_METRICS_TOKEN")
# Fernet keys for stored cluster passwords, comma-separated, newest first (older ones still decrypt during rotation).
FERNET_KEYS = [k for k in env_str("SEAMLINE_FERNET_KEYS").split(",") if k.strip()]
