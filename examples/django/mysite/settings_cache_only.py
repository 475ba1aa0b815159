"""cache-only: a connection per request, the compiled template kept (the cached loader)."""

from mysite.settings_base import *  # noqa: F403
from mysite.settings_base import DSN, database, templates

DATABASES = {"default": database(DSN, conn_max_age=0)}
TEMPLATES = templates(cached=True)
