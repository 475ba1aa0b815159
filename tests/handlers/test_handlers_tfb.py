"""Every workload x variant against the TechEmpower verification rules, on the real stack, under mod_python and
under mod_wsgi (daemon mode): the rules are in tests/techempower.py, collected here against conftest's
`server_stack`."""

import pytest
from techempower import (  # noqa: F401
    test_db,
    test_fortunes,
    test_plaintext_and_json,
    test_query_count_clamping,
    test_server_status_loopback,
    test_unknown_paths_404,
    test_updates_are_persisted,
)

pytestmark = pytest.mark.integration
