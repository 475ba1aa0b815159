"""pooled: both kept: the connection (CONN_MAX_AGE = None) and the compiled template."""

from mysite.settings_base import *  # noqa: F403
from mysite.settings_base import DSN, database, templates

DATABASES = {"default": database(DSN, conn_max_age=None)}
TEMPLATES = templates(cached=True)
