"""Django settings: wiring only. Every value comes from ``tandem.config`` (TANDEM_* variables)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bootstrap_wrapper
import dj_database_url

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
                "tandem.core.context.persona",
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
            # WAL lets the server read while a command writes; IMMEDIATE avoids
            # "database is locked" upgrades inside ATOMIC_REQUESTS transactions.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    suffix = os.environ.get("TANDEM_TEST_DB_SUFFIX", "")
    if suffix and db["ENGINE"] != "django.db.backends.sqlite3":
        db["TEST"] = {"NAME": f"test_{db['NAME']}_{suffix}"}
    db["ATOMIC_REQUESTS"] = True
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

LANGUAGE_CODE = "en-us"
TIME_ZONE: str = CONFIG["TANDEM_TIME_ZONE"]
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STATICFILES_DIRS = [("bootstrap", Path(bootstrap_wrapper.get_bootstrap_dir()))]
WHITENOISE_USE_FINDERS = True  # serve straight from the packages: no collectstatic step

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "tandem": {"handlers": ["console"], "level": CONFIG["TANDEM_LOG_LEVEL"]},
        # django.request would log URLs of refused requests; URLs can carry search terms.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
