"""bench/load/per_process.py: busy threads and CPU per serving process, from access-log entries and samples."""

import json

from bench.load.access_log import Entry
from bench.load.per_process import busy_peak, figures


def _e(t: float, pid: int, ms: float) -> Entry:
    return Entry(t=t, pid=pid, keepalive=1, status=200, micros=int(ms * 1000), path="/x", cold=False, served=1)


def test_busy_peak_counts_overlap():
    assert busy_peak([(0, 2), (1, 3), (1.5, 4), (3.5, 5)]) == 3
    assert busy_peak([(0, 1), (1, 2)]) == 1  # one ends as the next starts


def test_figures_per_process(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(json.dumps(s) for s in [
        {"t": 10.0, "pid": 7, "role": "apache", "cpu_s": 1.0}, {"t": 20.0, "pid": 7, "role": "apache", "cpu_s": 6.0},
        {"t": 10.0, "role": "total"}]) + "\n")
    # pid 7: 4 requests of 1 s each ending within [10, 20): 0.4 busy threads on average, 2 at once at most.
    entries = [_e(12, 7, 1000), _e(12.5, 7, 1000), _e(15, 7, 1000), _e(18, 7, 1000), _e(25, 7, 1000), _e(12, 0, 5)]
    (got,) = figures(entries, samples, 10.0, 20.0)
    assert got == {"pid": 7, "requests": 4, "rps": 0.4, "busy_threads": 0.4, "busy_peak": 2, "cpu_pct": 50.0,
                   "requests_per_cpu_s": 0.8}
