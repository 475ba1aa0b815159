"""tests/conftest.py's marks and scheduling: a declaration that names nothing stops the collection."""

import conftest
import pytest


def test_a_declared_module_that_does_not_exist_stops_the_collection(monkeypatch):
    monkeypatch.setattr(conftest, "DECLARED_MARKS", {"tests/bench/test_gone.py": {"*": (conftest.integration,)}})
    with pytest.raises(pytest.UsageError, match="tests/bench/test_gone.py"):
        conftest._check_declared_marks([])


def test_a_declared_function_that_does_not_exist_stops_the_collection(monkeypatch, request):
    here = "tests/test_scheduling.py"
    monkeypatch.setattr(conftest, "DECLARED_MARKS", {here: {"test_renamed_away": (conftest.report,)}})
    with pytest.raises(pytest.UsageError, match=f"{here}::test_renamed_away"):
        conftest._check_declared_marks([request.node])


def test_every_declared_mark_names_a_test_function():
    for path, declared in conftest.DECLARED_MARKS.items():
        assert (conftest.REPO / path).is_file(), path
        text = (conftest.REPO / path).read_text()
        assert all(f"def {name}(" in text for name in declared if name != "*"), path


def test_a_lane_without_a_test_stops_a_whole_suite_collection():
    with pytest.raises(pytest.UsageError, match="lane 'sweeps-1' has no test"):
        conftest._lanes([], whole_suite=True)
    assert conftest._lanes([], whole_suite=False) == {}


def test_an_undeclared_lane_stops_the_collection(request):
    request.node.add_marker(pytest.mark.lane("sweeps-9"))  # after the collection, which would refuse it
    with pytest.raises(pytest.UsageError, match="in lane 'sweeps-9'"):
        conftest._lanes([request.node], whole_suite=False)
