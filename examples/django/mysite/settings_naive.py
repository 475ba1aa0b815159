"""naive: a connection and a template compile per request: the baseline."""

from mysite.settings_base import *  # noqa: F403
from mysite.settings_base import DSN, database, templates

DATABASES = {"default": database(DSN, conn_max_age=0)}
TEMPLATES = templates(cached=False)
