"""What the four settings modules share. Each of them sets the two persistence switches, the 2x2 the suite
measures: CONN_MAX_AGE (0: a connection per request; None: kept by the process) and the template loader (the
filesystem loader reads and compiles the template at every request; the cached one keeps the compiled template).
"""

import os
from pathlib import Path

from psycopg2.extensions import parse_dsn

HERE = Path(__file__).resolve().parent
SECRET_KEY = "example-only-not-secret"  # not a secret: the example serves one read-only page on loopback
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS = ["mysite"]
MIDDLEWARE: list[str] = []
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"


def database(dsn: str, conn_max_age: int | None) -> dict:
    """Django's DATABASES entry from a libpq DSN (key=value or a postgresql:// URI): a passfile= stays in
    OPTIONS, handed to libpq as it is."""
    given = parse_dsn(dsn)
    named = {"NAME": given.pop("dbname", ""), "USER": given.pop("user", ""), "HOST": given.pop("host", ""),
             "PORT": given.pop("port", ""), "PASSWORD": given.pop("password", "")}
    return {"ENGINE": "django.db.backends.postgresql", **named, "OPTIONS": given, "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": False}


def templates(cached: bool) -> list[dict]:
    loader = "django.template.loaders.filesystem.Loader"
    loaders = [("django.template.loaders.cached.Loader", [loader])] if cached else [loader]
    return [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [HERE / "templates"],
             "APP_DIRS": False, "OPTIONS": {"loaders": loaders}}]


DSN = os.environ.get("BENCH_DSN", "dbname=bench")
