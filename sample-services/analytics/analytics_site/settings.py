"""Settings for the analytics service, read from the environment devstack injects.

DATABASE_URL (the service's own PostgreSQL database) is injected by devstack; without it (unit tests,
a quick `manage.py shell`) the service falls back to SQLite so tests need no server.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


# Development defaults: this is a sample run by devstack on loopback, never a production config.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-dev-only-change-me")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
# The gateway forwards X-Forwarded-Host/Proto; admin's CSRF check needs the gateway's origin.
USE_X_FORWARDED_HOST = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "http://localhost:8080,http://127.0.0.1:8080,https://localhost:8443,https://127.0.0.1:8443",
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "channels",
    "orders",
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
]

ROOT_URLCONF = "analytics_site.urls"
ASGI_APPLICATION = "analytics_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.config(conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files (the admin's CSS/JS) are served by WhiteNoise under /admin/static/, so the gateway's
# /admin/** route covers them and no collectstatic step is needed in development.
STATIC_URL = "/admin/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.auth.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["orders.auth.HasAnalyticsScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

# One process's in-memory layer is enough: every web instance LISTENs to PostgreSQL itself and pushes
# to its own WebSocket clients (see orders/live.py), so no cross-process channel layer is needed.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

KAFKA = {
    "BROKERS": os.environ.get("KAFKA_BROKERS", "127.0.0.1:9092"),
    "GROUP": os.environ.get("ANALYTICS_GROUP", "analytics"),
    # devstack injects it (registry: in devstack.yaml); orders.placed and orders.scored are Avro.
    "SCHEMA_REGISTRY_URL": os.environ.get("SCHEMA_REGISTRY_URL", ""),
}

ANALYTICS_SCOPE = "analytics:read"

# Bearer tokens are verified here too (orders/auth.py): users' HS256 tokens with JWT_SECRET, the gateway
# dev issuer's against GATEWAY_URL's JWKS. devstack sets GATEWAY_URL; devstack.yaml passes JWT_SECRET.
_gateway = os.environ.get("GATEWAY_URL", "").rstrip("/")
JWT = {
    "SECRET": os.environ.get("JWT_SECRET", ""),
    "ISSUER": os.environ.get("JWT_ISSUER", "devstack"),
    "AUDIENCE": os.environ.get("JWT_AUDIENCE", "devstack"),
    "JWKS_URL": f"{_gateway}/.well-known/jwks.json" if _gateway else "",
    "JWKS_COOLDOWN": float(os.environ.get("JWKS_COOLDOWN_SECONDS", "30")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
    # httpx2: the schema registry client logs every request at INFO (a schema is fetched once per id).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
