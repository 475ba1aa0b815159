"""bench.load.sampler.memory_summary: per-process medians, the total, and the processes that served."""

import json

from bench.load.sampler import memory_summary


def test_serving_processes_and_total(tmp_path):
    # A mod_wsgi daemon-mode picture: the parent and two relaying children are small, two daemons serve.
    rows = []
    for t in (1.0, 2.0):
        for pid, kb in ((10, 4096), (11, 2048), (12, 2048), (20, 20480), (21, 22528)):
            rows.append({"t": t, "pid": pid, "role": "apache", "rss_kb": 2 * kb, "pss_kb": kb})
    rows.append({"t": 1.5, "pid": 99, "role": "postgres", "rss_kb": 1, "pss_kb": 1})
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(json.dumps(r) for r in rows))
    out = memory_summary(samples, "apache", 0, 3, serving={20, 21})
    assert out["pss_mb_per_process"] == 4.0  # median over all five processes
    assert out["pss_mb_serving"] == 21.0     # the two daemons
    assert out["pss_mb_total"] == 50.0
    assert "pss_mb_serving" not in memory_summary(samples, "apache", 0, 3)
