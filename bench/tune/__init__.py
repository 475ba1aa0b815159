"""The tuner, `bench tune`: one module per knob, the knob registry, and what the knobs share.

- knobs.py        the Knob definition (name, values, directives, model, recommendation) and its lookup
- options.py      the options every knob shares (workload, variant, loss, memory budget, keep-alive)
- sweep.py        the skeleton of every sweep: stack up once, a fresh Apache per point, one trial each
- recycling.py    knob max-connections-per-child: MaxConnectionsPerChild with keep-alive on and off
- model.py        its model: what recycling every N connections costs in throughput and saves in memory
- prefork_sim.py  the model's simulation of how prefork replaces exited children
- processes.py    knob processes: the prefork pool's size (MaxRequestWorkers)
- sizing.py       its recommendation from the measured points (measured only: no model)
- threads.py      knobs threads (at fixed --processes) and processes,threads (the grid): processes x threads

A new knob is one module with a `Knob` subclass and one entry in KNOBS below.
"""

from bench.tune import processes, recycling, threads
from bench.tune.knobs import Knob, lookup

# --knob NAME -> its definition; the first is the default.
KNOBS: dict[str, Knob] = {k.name: k for k in (recycling.KNOB, processes.KNOB, threads.KNOB, threads.GRID_KNOB)}
DEFAULT_KNOB = next(iter(KNOBS))


def knob(name: str) -> Knob:
    """The knob called `name`; a one-line UserError naming the known ones otherwise."""
    return lookup(KNOBS, name)
