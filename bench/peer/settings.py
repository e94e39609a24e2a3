"""A plain django-tenants project, set up the way its documentation shows.

It is QIRO's yardstick in ``bench/versus.py``: schema per tenant through
``TenantMainMiddleware`` and django-tenants' backend, Django's own auth,
sessions and admin as tenant apps, no row security, connecting as the
server's superuser. It renders QIRO's company home template, so both sides
draw the same page. Only the settings a like-for-like comparison needs differ
from the documented defaults: persistent connections (QIRO's default),
Korean with its translations, and production mode.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "peer-" + "x" * 50)
DEBUG = False
ALLOWED_HOSTS = ["*"]

SHARED_APPS = [
    "django_tenants",
    "peer.customers",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"

MIDDLEWARE = [
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peer.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ROOT / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": os.environ.get("PEER_DB_NAME", "qiro_bench_peer"),
        "USER": os.environ.get("PEER_DB_USER", "postgres"),
        "HOST": os.environ.get("PEER_DB_HOST", ""),
        "PORT": os.environ.get("PEER_DB_PORT", ""),
        "CONN_MAX_AGE": 60,
    }
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "Korean"), ("en", "English")]
LOCALE_PATHS = [ROOT / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
