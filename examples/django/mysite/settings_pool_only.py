"""pool-only: the connection kept by the process (CONN_MAX_AGE = None), the template compiled per request."""

from mysite.settings_base import *  # noqa: F403
from mysite.settings_base import DSN, database, templates

DATABASES = {"default": database(DSN, conn_max_age=None)}
TEMPLATES = templates(cached=False)
