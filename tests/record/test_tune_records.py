"""bench/record/tune*.py: every part of tune.json is one class that writes and reads its own JSON."""

import json
from pathlib import Path

import pytest

from bench.record.tune import TuneData, TunePlan, load_tune, read_tune
from bench.record.tune_conclusions import (
    ConfirmStatus,
    ModeConclusion,
    ModelParameters,
    Sizing,
)
from bench.record.tune_points import Point, PointTrial

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "tune").iterdir())


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_round_trips_to_its_own_json(folder: Path) -> None:
    data = load_tune(folder)
    record = TuneData.from_json(data)
    assert record.to_json() == data
    assert json.loads(json.dumps(record.to_json())) == data
    assert TuneData.from_json(record.to_json()) == record


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_fixtures_read_into_typed_parts(folder: Path) -> None:
    record = read_tune(folder)
    assert record.knob == "max-connections-per-child" and record.plan is not None
    assert all(isinstance(p, Point) and p.trials and isinstance(p.trials[0], PointTrial) for p in record.points)
    assert record.points and {p.mode for p in record.points} <= {"on", "off"}
    conclusion = record.modes[record.points[0].mode]
    assert isinstance(conclusion, ModeConclusion) and isinstance(conclusion.model, ModelParameters)
    assert conclusion.model.child_cost_s is not None and conclusion.model.child_cost_s < 1  # seconds, not ms


def test_missing_is_none_never_zero_and_is_not_written_back() -> None:
    trial = PointTrial.from_json({"trial": 1, "rps": 10})
    assert trial.startup_ms is None and trial.rps == 10 and trial.flags == ()
    assert trial.to_json() == {"trial": 1, "rps": 10}
    bad = PointTrial.from_json({"rps": "fast", "flags": "x", "window_after_start": [1]})
    assert bad.rps is None and bad.flags == () and bad.window is None


def test_unknown_keys_are_kept() -> None:
    plan = TunePlan.from_json({"knob": "processes", "someday": {"a": 1}})
    assert plan.to_json() == {"knob": "processes", "someday": {"a": 1}}


def test_a_new_record_writes_exactly_what_it_was_given() -> None:
    assert PointTrial.new(trial=1, rps=None).to_json() == {"trial": 1, "rps": None}
    assert PointTrial.new(trial=1).having(rps=3.0).to_json() == {"trial": 1, "rps": 3.0}
    assert list(PointTrial.new(trial=1, dir="d", rps=2.0).having(flags=("x",)).to_json()) == ["trial", "dir", "rps",
                                                                                               "flags"]


def test_the_cost_of_a_new_child_is_seconds_in_the_class_and_ms_in_json() -> None:
    params = ModelParameters.from_json({"child_cost_ms": 51.904})
    assert params.child_cost_s == pytest.approx(0.051904)
    assert params.to_json() == {"child_cost_ms": 51.904}
    assert ModelParameters.new(child_cost_s=0.0519044).to_json() == {"child_cost_ms": 51.904}


def test_states_are_enums_with_the_json_strings() -> None:
    from bench.record.tune_conclusions import Confirmation

    conf = Confirmation.from_json({"status": "not observable"})
    assert conf.status is ConfirmStatus.NOT_OBSERVABLE and conf.to_json() == {"status": "not observable"}
    assert Confirmation.from_json({}).state is ConfirmStatus.NONE and not Confirmation.from_json({}).ran
    assert Confirmation.from_json({"status": "what"}).state is ConfirmStatus.NONE


def test_sizing_value_is_a_count_or_a_shape() -> None:
    assert Sizing.from_json({"value": 4}).count == 4 and Sizing.from_json({"value": 4}).shape is None
    two = Sizing.from_json({"value": [1, 4], "knee": [1, 4]})
    assert two.shape == (1, 4) and two.count is None and two.to_json() == {"value": [1, 4], "knee": [1, 4]}
    assert Sizing.from_json({"value": 0}).count is None


def test_a_point_summarizes_its_trials() -> None:
    trials = [PointTrial.new(trial=i, dir=f"t{i}", rps=r, failures=1, generator_bound=i == 2, flags=(f"f{i}",))
              for i, r in ((1, 100.0), (2, 110.0), (3, 90.0))]
    p = Point.of("on", 10, trials)
    assert (p.rps, p.failures, p.generator_bound, p.flags, p.n, p.mode) == (100.0, 3, True, ("f1", "f2", "f3"),
                                                                            10, "on")
    assert p.ci is not None and p.ci[0] <= 100 <= p.ci[1]


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_renders_from_its_classes(folder: Path, tmp_path: Path) -> None:
    import shutil

    from reports.build import build_report

    run = tmp_path / folder.name
    shutil.copytree(folder, run)
    md = (build_report(run).parent / "report.md").read_text()
    record = read_tune(run)
    assert "MaxConnectionsPerChild" in md and record.advice is not None
    assert all(d in md for d in record.advice.directives)


def test_modes_and_scopes_are_enums_written_as_before() -> None:
    from bench.record.tune import BudgetScope
    from bench.record.tune_points import KeepAlive

    record = read_tune(FIXTURES[0])
    assert record.plan is not None and record.plan.keepalive == (KeepAlive.ON, KeepAlive.OFF)
    assert record.plan.memory_budget_scope is BudgetScope.CHILD and record.points[0].keepalive is KeepAlive.ON
    assert record.to_json()["plan"]["keepalive"] == ["on", "off"]
    assert json.dumps(record.to_json()["plan"]["memory_budget_scope"]) == '"child"'
