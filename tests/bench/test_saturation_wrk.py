"""Saturation stopping rules and the knee; parsing of wrk's output."""

from bench.load import saturation, wrk
from bench.record.run_rows import SaturationStep


def test_saturation_ladder_and_stops():
    assert saturation.ladder(4) == [4, 8, 16, 32, 64, 128, 256]
    s = lambda u, rps, p99=1.0, b="load": SaturationStep(u, rps, p99, b)  # noqa: E731
    assert saturation.stop_reason([s(4, 1000)], 100) is None
    assert "server" in saturation.stop_reason([s(4, 1000, b="server")], 100)
    assert "generator" in saturation.stop_reason([s(4, 1000, b="generator")], 100)
    assert "p99" in saturation.stop_reason([s(4, 1000, p99=150)], 100)
    assert "1.0%" in saturation.stop_reason([s(4, 1000), s(8, 1010)], 100)
    assert "most" in saturation.stop_reason([s(256, 1000)], 100)
    steps = [s(4, 1000), s(8, 1900), s(16, 1950), s(32, 2500, p99=500)]
    assert saturation.knee(steps, 100).users == 8  # 16 buys < 5%, 32 is over the p99 bound


WRK_OUT = """Running 5s test @ http://127.0.0.1:8089/pooled/db
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   410.12us  120.00us   3.20ms   90.00%
    Req/Sec    9.80k   300.00     10.20k    70.00%
  Latency Distribution
     50%  390.00us
     75%  450.00us
     90%  520.00us
     99%    1.10ms
  48765 requests in 5.00s, 9.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   9753.00
Transfer/sec:      1.80MB
"""


def test_wrk_parse():
    out = wrk.parse(WRK_OUT)
    assert out == {"rps": 9753.0, "requests": 48765, "errors": 0, "non_2xx": 3, "p50_ms": 0.39, "p99_ms": 1.1}
    assert wrk.command("http://x/", 4, 5, connection_close=True)[-3:] == ["-H", "Connection: close", "http://x/"]
