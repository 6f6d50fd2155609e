"""Minimal settings: one view, no database."""
SECRET_KEY = "bench-only"
DEBUG = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchapp.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
USE_TZ = True
