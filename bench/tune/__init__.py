"""The tuner, `bench tune`: one module per knob, the knob registry, and what the knobs share.

- knobs.py        the Knob definition (name, values, directives, model, its sweep's task) and its lookup
- options.py      the options every knob shares (workload, variant, loss, memory budget, keep-alive)
- sweep.py        the loop of every sweep: stack up once, a fresh Apache per point, one trial each
- summaries.py    what each knob prints when its sweep ends
- recycling.py    knob max-connections-per-child: MaxConnectionsPerChild with keep-alive on and off
- model.py        its model: what recycling every N connections costs in throughput and saves in memory
- prefork_sim.py  the model's simulation of how prefork replaces exited children
- confirm.py      its confirmation: the recommended value measured against N = 0
- processes.py    knob processes: the prefork pool's size (MaxRequestWorkers)
- sizing.py       its recommendation from the measured points (measured only: no model)
- threads.py      knobs threads (at fixed --processes) and processes,threads (the grid): processes x threads

A new knob is one module with a `Knob` subclass: KNOBS below finds it.
"""

import importlib
import pkgutil

from bench.tune.knobs import Knob, knob_classes, lookup

for _module in pkgutil.iter_modules(__path__):  # every module, so that every Knob subclass is defined
    importlib.import_module(f"{__name__}.{_module.name}")

# --knob NAME -> its definition; the default first.
KNOBS: dict[str, Knob] = {k.name: k() for k in knob_classes()}
DEFAULT_KNOB = next(iter(KNOBS))


def knob(name: str) -> Knob:
    """The knob called `name`; a one-line UserError naming the known ones otherwise."""
    return lookup(KNOBS, name)
