"""The load: a plan in, trials out. Each trial is a fresh Apache start, Locust (or its master and workers)
on one cell, the samplers beside it, and the raw files of its folder plus trial.json; `bench/record` turns
them into results.json.

| module | job |
|---|---|
| `plan.py` | `Plan`: the cells (workloads x variants x servers x rates) and the interleaved order of trials |
| `run.py` | `bench run`: pre-flight checks, priming, the plan loop, the run folder |
| `trial.py` | one trial: a fresh Apache, Locust for the plan's duration, the samplers, trial.json |
| `locust_runner.py` | Locust headless as a subprocess on scenarios/ |
| `locust_master.py` | one Locust master for the whole run (`--workers`), driven over a private socket |
| `wrk.py` | the second instrument, on the endpoint a Locust trial just measured |
| `offered_rate.py` | the open model (`--rate`): the trial's `open` block and whether the rate was met |
| `slo_search.py` | `--saturate --slo`: the largest offered rate that meets the SLO, per cell |
| `saturation.py` | `--saturate`: raise a cell's users until something other than the load is the limit |
| `thresholds.py` | `--fail-on`: the thresholds, judged on a run's summary |
| `sampler.py` | every Apache child, PostgreSQL backend and Locust process from /proc, every 0.5 s |
| `accept_queue.py` | the listen socket's accept queue during the trial (the wait `%D` cannot see) |
| `access_log.py` | the Apache access log: server-side counts and latency per process and connection |
| `per_process.py` | what each serving process did with its threads |
| `faults.py` | children replaced, PostgreSQL restarted: flags, never a crash |
| `machine.py` | the machine facts and versions recorded with every run |
| `sessions.py` | `bench sessions`: how often per-process state forgets a returning client |
"""
