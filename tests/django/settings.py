"""A small Django project for the app's tests: SQLite by default, and a PostgreSQL alias (``postgres``) that
the tests point at the suite's throwaway server."""

import json
import os
import tempfile
from pathlib import Path

_HERE = Path(tempfile.mkdtemp(prefix="expo-push-django-"))

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.django.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "expo_push.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
STATIC_URL = "/static/"
DATABASES = {
    # The ledger needs a file: the test database is one too (Django's default for SQLite tests is in memory).
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_HERE / "app.db"),
        "TEST": {"NAME": str(_HERE / "test-app.db")},
    },
    # HOST and PORT are those of the throwaway server, set by tests/django/conftest.py.
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "0",
        "TEST": {"DEPENDENCIES": []},  # set up alone when only PostgreSQL tests are chosen
    },
}
EXPO_PUSH: dict[str, object] = {}

# A worker started by a test as a process of its own (``manage.py expo_push_worker``) is given the test's
# databases (their test NAME, the server's PORT) and EXPO_PUSH as JSON.
if os.environ.get("EXPO_PUSH_TEST_DATABASES"):
    for _alias, _given in json.loads(os.environ["EXPO_PUSH_TEST_DATABASES"]).items():
        DATABASES[_alias].update(_given)
if os.environ.get("EXPO_PUSH_TEST_SETTINGS"):
    EXPO_PUSH = json.loads(os.environ["EXPO_PUSH_TEST_SETTINGS"])
