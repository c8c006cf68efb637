"""Seamline settings: one file, read from the environment, with defaults that make `make run` work as is."""

from __future__ import annotations

import importlib.util
import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP
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

# Production mode (SEAMLINE_PRODUCTION=1): debug off, a strong secret key and the site's host names required, HTTPS
# only (secure cookies, redirect to https, HSTS). Off by default, so that `make run` serves plain http on 127.0.0.1.
# docs/security.md has the threat model and what each of these settings protects.
PRODUCTION = env_bool("SEAMLINE_PRODUCTION")
if PRODUCTION and env_bool("SEAMLINE_DEBUG"):
    raise RuntimeError("SEAMLINE_DEBUG cannot be on with SEAMLINE_PRODUCTION=1: debug pages show settings and code")
# Debug is opt-in (`make run` turns it on): a deployment that forgets SEAMLINE_PRODUCTION serves no debug pages.
DEBUG = not PRODUCTION and env_bool("SEAMLINE_DEBUG")
DEV_SECRET_KEY = "dev-only-insecure-key"


def state_secret_key() -> str:
    """Outside production mode, without SEAMLINE_SECRET_KEY: a random key made once in the state folder (readable by
    its owner only) and read from it after, so that every process of this installation signs with the same key."""
    path = STATE_DIR / "secret-key"
    if not path.exists():
        try:
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            draft = STATE_DIR / f".secret-key.{os.getpid()}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(50))
            try:
                os.link(draft, path)  # whole or not at all; a process that made one first wins
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        except OSError as exc:
            raise RuntimeError(
                f"SEAMLINE_SECRET_KEY is not set and no key can be kept in {STATE_DIR} ({exc.strerror}): set "
                "SEAMLINE_SECRET_KEY, or SEAMLINE_STATE_DIR to a folder Seamline may write"
            ) from None
    return path.read_text().strip()


SECRET_KEY = env_str("SEAMLINE_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise RuntimeError("SEAMLINE_SECRET_KEY must be set with SEAMLINE_PRODUCTION=1")
    SECRET_KEY = state_secret_key()
# The key signs sessions and password reset links: in production it must be as strong as Django's own check asks
# (security.W009), and never the dev key.
if PRODUCTION and (
    SECRET_KEY == DEV_SECRET_KEY
    or SECRET_KEY.startswith("django-insecure-")
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    raise RuntimeError(
        "SEAMLINE_SECRET_KEY is too weak for SEAMLINE_PRODUCTION=1: use at least 50 random characters, e.g. "
        '`python3 -c "import secrets; print(secrets.token_urlsafe(50))"`'
    )
# The dev default (loopback and the test client's "testserver") makes no sense on a server: production names its hosts.
if PRODUCTION and not env_str("SEAMLINE_ALLOWED_HOSTS"):
    raise RuntimeError("SEAMLINE_ALLOWED_HOSTS must name the site's host names with SEAMLINE_PRODUCTION=1")
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
    "axes",
    "catalog",
    "dashboard",
    "demo",
]

MIDDLEWARE = [
    "dashboard.middleware.ServerTimingMiddleware",  # outermost: it times everything Django does (when enabled)
    "dashboard.middleware.ClientAddressMiddleware",  # whatever reads REMOTE_ADDR reads the client's
    "django.middleware.security.SecurityMiddleware",
    "dashboard.middleware.RejectNulMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "dashboard.middleware.AgesMiddleware",  # inside LocaleMiddleware: ages in the response's language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # before anything reads the session: a live page's Redis read is sent first, to overlap PostgreSQL's
    "dashboard.fragments.PrefetchMiddleware",
    "dashboard.auth.AuthenticationMiddleware",  # Django's, the user read with the session (dashboard.auth)
    "dashboard.auth.LoginRequiredMiddleware",  # Django's, the session read with the grants when the view checks them
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # last, as django-axes asks: it turns a locked-out login into the lockout response
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
# error reports (debug pages, mails to admins) hide every setting that can carry a secret, URLs included
DEFAULT_EXCEPTION_REPORTER_FILTER = "dashboard.reporting.SecretsHidden"
# Mail, for password reset: off (its pages are not served) unless a mail server is named
EMAIL_HOST = env_str("SEAMLINE_EMAIL_HOST")
EMAIL_PORT = env_int("SEAMLINE_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("SEAMLINE_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("SEAMLINE_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("SEAMLINE_EMAIL_TLS", True)
DEFAULT_FROM_EMAIL = env_str("SEAMLINE_EMAIL_FROM", "seamline@localhost")
PASSWORD_RESET = bool(EMAIL_HOST)
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
        "ENGINE": "dashboard.database",  # Django's, its health check without a round trip
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
            # the statement nearly every request sends (the session with its user) is prepared from its second
            # execution on a connection (dashboard.database); off (0) behind a pooler that cannot keep prepared
            # statements (PgBouncer before 1.21 in transaction mode)
            "prepare_threshold": 1 if env_bool("SEAMLINE_DB_PREPARED_STATEMENTS", True) else None,
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
# a web request that queues a job waits this long at most for Redis before it says the queue is down
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# Queues (docs/deploy.md): sampling (due every second, a few seconds each) and the catalog's jobs (a sync or an audit
# can take minutes) never wait behind each other, and each can get workers of its own on hosts of its own. Syncs go
# with audits by default: both read a cluster's catalog, and an audit begins with a sync. dashboard.celery.route_task
# reads these when a task is sent; whatever else is sent (ping, beat's clean-up) goes to Celery's default "celery".
SAMPLING_QUEUE = env_str("SEAMLINE_SAMPLING_QUEUE", "sampling")
AUDIT_QUEUE = env_str("SEAMLINE_AUDIT_QUEUE", "audits")
SYNC_QUEUE = env_str("SEAMLINE_SYNC_QUEUE", AUDIT_QUEUE)
# Statements samples: once a minute per node, but a node's first one parses every statement text it finds (up to
# SEAMLINE_STATEMENTS_TIME_LIMIT): on the sampling queue, a fleet's first ones would hold every sampling process and
# the sessions samples, due every 5 s, would wait behind them. The audits workers consume it by default.
STATEMENTS_QUEUE = env_str("SEAMLINE_STATEMENTS_QUEUE", "statements")
CELERY_TASK_ROUTES = ["dashboard.celery.route_task"]
# Syncs and audits are acknowledged late, one message at a time per worker process; their hard time limits stay below
# the broker's visibility timeout, after which Redis would deliver an unacknowledged message again. A run whose worker
# was lost is taken up again by the redelivered task, RUN_ATTEMPTS times in all (catalog.runs); one still queued or
# running after its time limit times that many attempts was lost with its message, and ends failed.
RUN_ATTEMPTS = 3
# A sync or audit of a cluster started while another runs waits this long for it (catalog.locks), then says so
RUN_LOCK_WAIT = env_int("SEAMLINE_RUN_LOCK_WAIT", 60)
SYNC_SOFT_TIME_LIMIT = env_int("SEAMLINE_SYNC_SOFT_TIME_LIMIT", 600)
SYNC_TIME_LIMIT = env_int("SEAMLINE_SYNC_TIME_LIMIT", 660)
SYNC_LOST_AFTER = timedelta(seconds=SYNC_TIME_LIMIT * RUN_ATTEMPTS)
AUDIT_SOFT_TIME_LIMIT = env_int("SEAMLINE_AUDIT_SOFT_TIME_LIMIT", 1500)
AUDIT_TIME_LIMIT = env_int("SEAMLINE_AUDIT_TIME_LIMIT", 1800)
AUDIT_LOST_AFTER = timedelta(seconds=AUDIT_TIME_LIMIT * RUN_ATTEMPTS)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("SEAMLINE_BROKER_VISIBILITY_TIMEOUT", 3600)}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep their connection to Seamline's database across tasks, as the web keeps it across requests: before and
# after each task it is closed only when broken or older than CONN_MAX_AGE (dashboard.celery). Left to Celery, each
# task would open and close one: at fleet scale a third of the database's CPU per sample (docs/scaling.md).
CELERY_DB_REUSE_MAX = 2**62  # so large that Celery itself never closes them

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

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one address, that
# pair is locked out for the cool-off time (every further attempt, right or wrong, answers 429 and starts the
# cool-off again). Keyed on username + address together, so a stranger cannot lock a colleague out from elsewhere.
# Axes' backend comes first: it refuses a locked-out pair before the password is even checked. Failures are kept in
# Seamline's database (shared by every web process); admins see and clear them in the admin (Access attempts).
# After it, Django's model backend with cheaper lookups (dashboard.auth), as the sessions are (SESSION_ENGINE).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "dashboard.auth.ModelBackend",
]
SESSION_ENGINE = "dashboard.auth"
AXES_FAILURE_LIMIT = env_int("SEAMLINE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SEAMLINE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login forgets the earlier failures of that username + address
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"  # Seamline's page, in the user's language (axes has no zh-hans)
AXES_VERBOSE = False  # no start-up banner on every command; failures and lockouts are still logged (WARNING)
# Behind a reverse proxy every request comes from the proxy: the header in which it passes the client's address
# (X-Real-IP in deploy/nginx/seamline.conf) becomes REMOTE_ADDR (dashboard.middleware.ClientAddressMiddleware), so
# that a lockout is the attacker's address and not everyone's. Empty (the default): REMOTE_ADDR as the server saw it.
CLIENT_IP_HEADER = env_str("SEAMLINE_CLIENT_IP_HEADER")

# Cookies and headers, in every mode: none of these needs HTTPS, so dev and the tests run with them too.
# The session and CSRF cookies are HttpOnly: no script reads them (htmx sends the CSRF token from the hx-headers
# attribute base.html puts on <body>, forms from their hidden field).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"  # no page of Seamline is ever framed (and CSP's frame-ancestors says the same)
SECURE_CONTENT_TYPE_NOSNIFF = True
# URLs name clusters, services and filters: other sites never see them in a Referer
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (Django's own middleware), in every mode, so that dev and the browser tests catch a
# violation before production does (tests/test_security.py loads the pages in Chromium and fails on any). Every
# script is a static file of this site: no inline script, no event handler attribute, no eval (htmx needs eval only
# for hx-on, hx-vars, js: values and trigger filters, which templates must not use). Styles are the exception:
# plotly.js writes <style> elements and style="" attributes while it draws (modebar, hover labels, the map's
# graph), and it offers no nonce for them; so style-src allows inline styles, which allows CSS, never script.
# Images: plotly draws a heatmap (the ownership map's matrix) as a data: image, and its "Download plot as a PNG"
# renders the figure through a blob: image it creates itself.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

if PRODUCTION:
    # HTTPS only: cookies never travel in clear, http redirects to https (but /healthz, for load balancers' plain
    # http checks), and browsers remember it (HSTS, subdomains included, preload-ready: see docs/security.md
    # before submitting a domain to the preload list).
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SEAMLINE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Seamline runs behind a reverse proxy that ends TLS and sets this header (and drops it from what clients
    # send); set SEAMLINE_PROXY_SSL_HEADER empty when Django itself is reached over TLS, with no proxy.
    _proxy_ssl_header = env_str("SEAMLINE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    if _proxy_ssl_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# where `collectstatic` puts them for the reverse proxy to serve (nothing serves them with debug off)
STATIC_ROOT = Path(env_str("SEAMLINE_STATIC_ROOT", str(BASE_DIR / "staticfiles")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SEAMLINE_LOG_LEVEL", "INFO")},
    # axes: failed logins and lockouts are warnings; its info lines (each login, each clean-up) would be noise
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
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
# a statements sample: its first one parses every statement's text once (about 2 ms each: 10,000 statements, 20 s)
STATEMENTS_SOFT_TIME_LIMIT = env_int("SEAMLINE_STATEMENTS_SOFT_TIME_LIMIT", 50)
STATEMENTS_TIME_LIMIT = env_int("SEAMLINE_STATEMENTS_TIME_LIMIT", 55)
HISTORY_RETENTION_DAYS = env_int("SEAMLINE_HISTORY_RETENTION_DAYS", 7)
# what Seamline records of its own work, pruned daily (dashboard.retention; the latest audit of each cluster is kept)
AUDIT_RETENTION_DAYS = env_int("SEAMLINE_AUDIT_RETENTION_DAYS", 90)
SYNC_RUN_RETENTION_DAYS = env_int("SEAMLINE_SYNC_RUN_RETENTION_DAYS", 30)
LOGIN_RECORD_RETENTION_DAYS = env_int("SEAMLINE_LOGIN_RECORD_RETENTION_DAYS", 30)
# the audit rules over what really ran (dashboard.statements.rules): the statements history they look at, and how
# much of it must exist before they say anything (an unused grant is only unused over enough time)
WORKLOAD_AUDIT_WINDOW_DAYS = env_int("SEAMLINE_WORKLOAD_AUDIT_WINDOW_DAYS", 7)
WORKLOAD_AUDIT_MIN_DAYS = env_int("SEAMLINE_WORKLOAD_AUDIT_MIN_DAYS", 1)
# the window of the run-time paths the ownership map shows, and by which it says whether a catalog path was used
WORKLOAD_PATHS_HOURS = env_int("SEAMLINE_WORKLOAD_PATHS_HOURS", 24)
# How long a page waits for Redis before it says live data is unavailable (seconds).
LIVE_REDIS_TIMEOUT = float(env_str("SEAMLINE_LIVE_REDIS_TIMEOUT", "0.5"))
# A Server-Timing header on every response (the time from the request entering Django to the response leaving it),
# for benchmarks and for the browser's developer tools; off by default, as it tells anyone how long each page took.
SERVER_TIMING = env_bool("SEAMLINE_SERVER_TIMING")
# Bearer token a Prometheus scraper may send to GET /metrics (API tokens work too); empty: API tokens only.
METRICS_TOKEN = env_str("SEAMLINE_METRICS_TOKEN")
# Fernet keys for stored cluster passwords, comma-separated, newest first (older ones still decrypt during rotation).
FERNET_KEYS = [k for k in env_str("SEAMLINE_FERNET_KEYS").split(",") if k.strip()]
