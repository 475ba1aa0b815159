"""A child that died during a trial is a fault, seen in the access log or, when it had served nothing yet,
in the birth of its replacement (the sampler's start times)."""

from bench.load.access_log import Entry
from bench.load.faults import replaced_children

T0 = 1000.0


def served(*rows: tuple[float, int]) -> list[Entry]:
    return [Entry(t=t, pid=pid, keepalive=0, status=200, micros=1000, path="/pooled/db", cold=False, served=None)
            for t, pid in rows]


def test_a_fixed_pool_that_kept_its_children_has_no_fault():
    entries = served((T0 + 1, 11), (T0 + 1.1, 12), (T0 + 5, 11))
    assert replaced_children(entries, T0, 2, {11: T0 - 0.5, 12: T0 - 0.49}) == []


def test_a_third_pid_serving_in_a_pool_of_two_is_a_replacement():
    entries = served((T0 + 1, 11), (T0 + 1.1, 12), (T0 + 3.2, 13))
    faults = replaced_children(entries, T0, 2)
    assert faults == ["1 Apache child(ren) replaced during the trial (a child died): new PIDs at +3.2s"]


def test_a_child_killed_before_it_served_is_seen_by_its_replacements_birth():
    # Child 11 was killed before its first request of the trial: only two PIDs served, 12 and its replacement.
    entries = served((T0 + 0.5, 12), (T0 + 2.4, 13), (T0 + 3, 12))
    started = {11: T0 - 0.5, 12: T0 - 0.49, 13: T0 + 2.2}
    assert replaced_children(entries, T0, 2) == []
    faults = replaced_children(entries, T0, 2, started)
    assert faults == ["1 Apache child(ren) replaced during the trial (a child died): new PIDs at +2.2s"]


def test_a_replacement_born_before_the_trial_is_not_this_trials_fault():
    # A server kept across trials: child 13 replaced one that died during an earlier trial.
    entries = served((T0 + 0.5, 12), (T0 + 0.6, 13))
    assert replaced_children(entries, T0, 2, {12: T0 - 60, 13: T0 - 20}) == []


def test_every_fault_text_names_its_kind_and_the_text_is_unchanged():
    from bench.load.faults import FaultKind, kind, postgres_restarted, unreachable

    restarted, = postgres_restarted(T0 - 100, T0 + 3.2, T0)
    down, = unreachable("postgres", T0, T0 + 1)
    replaced, = replaced_children(served((T0 + 1, 11), (T0 + 1.1, 12), (T0 + 3.2, 13)), T0, 2)
    assert (restarted, down) == ("postgres restarted at +3.2s", "postgres unreachable at +1.0s")
    assert [kind(f) for f in (replaced, restarted, down)] == [
        FaultKind.CHILD_REPLACED, FaultKind.POSTGRES_RESTARTED, FaultKind.UNREACHABLE]
    assert kind("worker loadgen1/4321 lost at +2.0s") is None
