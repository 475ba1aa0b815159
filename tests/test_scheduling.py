"""tests/conftest.py's scheduling: a lane that names nothing stops the collection."""

import conftest
import pytest


def test_a_lane_without_a_test_stops_a_whole_suite_collection():
    with pytest.raises(pytest.UsageError, match="lane 'sweeps-1' has no test"):
        conftest._lanes([], whole_suite=True)
    assert conftest._lanes([], whole_suite=False) == {}


def test_an_undeclared_lane_stops_the_collection(request):
    request.node.add_marker(pytest.mark.lane("sweeps-9"))  # after the collection, which would refuse it
    with pytest.raises(pytest.UsageError, match="in lane 'sweeps-9'"):
        conftest._lanes([request.node], whole_suite=False)
