"""bench/tune/toy.py: a knob added as one module is found, parsed and concluded like the others."""

from bench.record.tune_points import Point
from bench.tune import KNOBS
from bench.tune.options import TuneOptions
from bench.tune.toy import recommend


def test_the_toy_knob_is_registered_parsed_and_concluded():
    toy = KNOBS["keepalive-timeout"]
    assert toy.parse(TuneOptions(values="15,1", workload="db", variant="pooled")).values == (1, 15)
    points = [Point.from_json({"keepalive": "on", "value": v, "rps": r}) for v, r in ((1, 900.0), (15, 1000.0))]
    assert recommend(points).directives == ("KeepAliveTimeout 15",)
