"""`python -m reports RUN_DIR` and `python -m reports compare RUN_A RUN_B ...`; see reports.cli."""

import sys

from reports.cli import main

sys.exit(main())
