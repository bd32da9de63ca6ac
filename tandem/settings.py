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
    "django_otp",  # the second factor (ADR 0007): TOTP devices and recovery codes
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
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
    "tandem.breakglass",  # break-the-glass emergency access (F28)
    "tandem.portal",  # the patient portal at /me/ (F30)
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
    # Ends a session idle for TANDEM_SESSION_IDLE_MINUTES (after messages: it leaves one).
    "tandem.core.lib.signin.IdleTimeoutMiddleware",
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
    # Persistent connections (one per server thread, checked before reuse): a new PostgreSQL
    # connection per request cost ~6 ms and a backend with cold catalog caches (issue 10 load).
    db = dj_database_url.parse(url, conn_max_age=300, conn_health_checks=True)
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
# Applied wherever a password is set: `tandem createuser`, the change-password page (the demo's
# personas get random 20-character passwords). Length matters most (NIST SP 800-63B): 12 at least.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses sign-in while a username + IP address is locked out, then
# Django's own backend checks the password.
# The OpenID Connect backend answers only the provider's callback (tandem.core.lib.oidc).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "tandem.core.lib.oidc.Backend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
# Sessions (docs/consent-and-audit.md, "Sign-in and sessions"): a session ends after
# TANDEM_SESSION_IDLE_MINUTES without a request (checked on the server by
# tandem.core.lib.signin.IdleTimeoutMiddleware), and TANDEM_SESSION_MAX_HOURS after sign-in
# however active (the cookie's age, not renewed by requests).
TANDEM_SESSION_IDLE_SECONDS: int = 60 * CONFIG["TANDEM_SESSION_IDLE_MINUTES"]
SESSION_COOKIE_AGE = 60 * 60 * CONFIG["TANDEM_SESSION_MAX_HOURS"]
SESSION_COOKIE_SAMESITE = "Lax"  # the OpenID Connect callback is a top-level GET from the provider
# The second factor (django-otp, ADR 0007): roles that must use it; issuer shown in the app.
TANDEM_REQUIRE_TOTP_ROLES: list[str] = CONFIG["TANDEM_REQUIRE_TOTP_ROLES"]
OTP_TOTP_ISSUER = "Tandem"
# OpenID Connect sign-in (mozilla-django-oidc, ADR 0007). The provider's endpoints come from its
# discovery document (read when first needed); users are matched to existing accounts by e-mail.
TANDEM_OIDC_ISSUER: str = CONFIG["TANDEM_OIDC_ISSUER"]
TANDEM_OIDC_PROVIDER_NAME: str = CONFIG["TANDEM_OIDC_PROVIDER_NAME"]
OIDC_RP_CLIENT_ID: str = CONFIG["TANDEM_OIDC_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET: str = CONFIG["TANDEM_OIDC_CLIENT_SECRET"]
OIDC_RP_SIGN_ALGO: str = CONFIG["TANDEM_OIDC_SIGN_ALGO"]
OIDC_RP_SCOPES = "openid email"
OIDC_CREATE_USER = False  # existing accounts only: an administrator creates each login
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10  # seconds for each call to the provider
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc-callback"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if TANDEM_ENV == "production":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS: int = CONFIG["TANDEM_HSTS_SECONDS"]
    SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = CONFIG["TANDEM_HSTS_INCLUDE_SUBDOMAINS"]
    SECURE_HSTS_PRELOAD: bool = CONFIG["TANDEM_HSTS_PRELOAD"]
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

# Break-the-glass (F28): how long an emergency access grant lasts.
TANDEM_BREAK_GLASS_MINUTES: int = CONFIG["TANDEM_BREAK_GLASS_MINUTES"]

# The daily audit anchor (F29): the chain head outside the database, and a signed digest.
TANDEM_AUDIT_ANCHOR_FILE: Path = CONFIG["TANDEM_AUDIT_ANCHOR_FILE"] or VAR_DIR / "audit-anchors.txt"
TANDEM_AUDIT_ANCHOR_KEY: str | None = CONFIG["TANDEM_AUDIT_ANCHOR_KEY"]
TANDEM_AUDIT_ANCHOR_AT: str = CONFIG["TANDEM_AUDIT_ANCHOR_AT"]
