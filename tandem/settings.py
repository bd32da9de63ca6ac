"""Django settings: wiring only. Every value comes from ``tandem.config`` (TANDEM_* variables)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import bootstrap_wrapper
import dj_database_url
from csp.constants import NONE, SELF

from tandem import config

CONFIG = config.read()

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR: Path = CONFIG["TANDEM_VAR_DIR"]
TANDEM_ENV: str = CONFIG["TANDEM_ENV"]

SECRET_KEY = config.secret_key(CONFIG)
DEBUG: bool = CONFIG["TANDEM_DEBUG"]
ALLOWED_HOSTS: list[str] = CONFIG["TANDEM_ALLOWED_HOSTS"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "csp",
    "tandem.core",
    "tandem.terminology",
    "tandem.registry",
    "tandem.clinical",
    "tandem.meds",
    "tandem.scheduling",
    "tandem.screening",
    "tandem.consent",
    "tandem.audit",
    "tandem.measures",
    "tandem.tokens",
    "tandem.workspace",  # the shell, role home pages, the demo: may import every app
    "tandem.tasks",
    "tandem.outreach",
    "django_q",  # django-q2: the database-backed job queue (ADR 0006)
    "tandem.jobs",
    "ninja",  # django-ninja: its templates and the Swagger UI files, served locally
]

MIDDLEWARE = [
    # First, so that it sees every response, whoever made it (tandem.core.lib.http).
    "tandem.core.lib.http.HeadWithoutBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tandem.core.lib.http.NeverStoreSignedInPagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After every middleware with a process_view hook (CSRF above all): its process_view calls
    # the view, in one transaction for a request that may write, in none for GET and HEAD.
    "tandem.core.lib.transactions.RequestTransactionMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"

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
                "tandem.workspace.context.shell",  # the role, its navigation, the version
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = CONFIG["TANDEM_DATABASE_URL"] or f"sqlite:///{VAR_DIR / 'tandem.sqlite3'}"
    db = dj_database_url.parse(url, conn_max_age=0)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        db["OPTIONS"] = {
            # WAL lets requests read while another writes. A transaction is opened to write
            # (requests that only read run outside one: RequestTransactionMiddleware), and
            # IMMEDIATE takes the write lock at BEGIN: a read lock is never upgraded, which
            # fails at once with "database is locked" if another writer committed in between.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    suffix = os.environ.get("TANDEM_TEST_DB_SUFFIX", "")
    if suffix and db["ENGINE"] != "django.db.backends.sqlite3":
        db["TEST"] = {"NAME": f"test_{db['NAME']}_{suffix}"}
    # Not ATOMIC_REQUESTS: that would hold SQLite's write lock for every page, even one that
    # only reads. RequestTransactionMiddleware gives each request that may write one transaction.
    db["ATOMIC_REQUESTS"] = False
    return dict(db)


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes first: it refuses sign-in while a username + IP address is locked out, then
# Django's own backend checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 60 * 60  # one clinical shift
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if TANDEM_ENV == "production":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS: int = CONFIG["TANDEM_HSTS_SECONDS"]
SECURE_SSL_REDIRECT: bool = (
    TANDEM_ENV == "production"
    if CONFIG["TANDEM_SSL_REDIRECT"] is None
    else CONFIG["TANDEM_SSL_REDIRECT"]
)
if CONFIG["TANDEM_BEHIND_TLS_PROXY"]:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Sign-in throttling (django-axes): failures are counted per username *and* IP address, so
# one person's typos never lock out a colleague, and a success clears the count.
AXES_FAILURE_LIMIT: int = CONFIG["TANDEM_LOGIN_FAILURE_LIMIT"]
TANDEM_LOGIN_COOLOFF_MINUTES: int = CONFIG["TANDEM_LOGIN_COOLOFF_MINUTES"]
AXES_COOLOFF_TIME = dt.timedelta(minutes=TANDEM_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the page can say when it ends
AXES_LOCKOUT_CALLABLE = "tandem.core.views.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit trail
AXES_VERBOSE = False  # no start-up banner on every command

# Content-Security-Policy (django-csp): everything from Tandem's own origin, nothing inline.
# Bootstrap's CSS embeds its small icons as data: URIs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# Permissions-Policy (django-permissions-policy): no page needs these browser features.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

LANGUAGE_CODE = "en-us"
TIME_ZONE: str = CONFIG["TANDEM_TIME_ZONE"]
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STATICFILES_DIRS = [("bootstrap", Path(bootstrap_wrapper.get_bootstrap_dir()))]
WHITENOISE_USE_FINDERS = True  # serve straight from the packages: no collectstatic step

_JOBS_LOG_LEVEL = "DEBUG" if CONFIG["TANDEM_LOG_LEVEL"] == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "tandem": {"handlers": ["console"], "level": CONFIG["TANDEM_LOG_LEVEL"]},
        # django.request would log URLs of refused requests; URLs can carry search terms.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # django-axes logs each failed sign-in with the username; the audit trail records them.
        "axes": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # django-q2 logs task names and the one-line errors Tandem's jobs raise (no patient data);
        # its start-up and per-task lines only at DEBUG, so `tandem serve` stays readable.
        "django-q": {"handlers": ["console"], "level": _JOBS_LOG_LEVEL, "propagate": False},
    },
}

# Background jobs (django-q2, ADR 0006): the queue is a table in the operational database (the
# ORM broker), so SQLite and PostgreSQL need no other server. A job attempt is stopped after the
# timeout; an attempt that failed or died is handed out again `retry` seconds after it started
# (which must exceed the timeout, or a slow job would be started twice), at most `max_attempts`
# times in all. `catch_up` off: after downtime a missed daily refresh runs once, not once per day.
TANDEM_JOBS_TIMEOUT = 60 * CONFIG["TANDEM_JOBS_TIMEOUT_MINUTES"]
Q_CLUSTER = {
    "name": "tandem",
    "orm": "default",
    "workers": max(1, CONFIG["TANDEM_JOBS_WORKERS"]),  # 0 means no worker in `tandem serve`
    "timeout": TANDEM_JOBS_TIMEOUT,
    "retry": TANDEM_JOBS_TIMEOUT + 300,
    "max_attempts": CONFIG["TANDEM_JOBS_MAX_ATTEMPTS"],
    "ack_failures": False,
    "poll": 1,  # seconds between looks at the queue table when it is empty
    "save_limit": 250,
    "catch_up": False,
    "time_zone": TIME_ZONE,
    "label": "Background jobs (django-q2)",
    "log_level": _JOBS_LOG_LEVEL,
}
TANDEM_REFRESH_AT: str = CONFIG["TANDEM_REFRESH_AT"]
TANDEM_JOBS_IN_SERVE: bool = CONFIG["TANDEM_JOBS_WORKERS"] > 0
