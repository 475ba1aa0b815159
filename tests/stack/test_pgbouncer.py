"""The private PgBouncer on the real stack: SCRAM pass-through, the bouncer variant, what pooler_stats samples,
its files and sockets, and nothing left running after down or a failed start."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg2
import pytest
import techempower
from conftest import REPO, bench_cli, get, make_state_dir, remove_state_dir

from bench import stack, vocabulary
from bench.errors import UserError
from bench.load import pooler_stats
from bench.record.trial import ConnectionFigures
from bench.stack import cpus, pgbouncer, postgres, procs, secrets
from bench.stack.knobs import StackSettings

pytestmark = pytest.mark.integration

POOL = 2


@pytest.fixture(scope="module")
def pooled_stack():
    """A stack of 2 processes with PgBouncer in transaction mode and a pool of POOL server connections."""
    state = make_state_dir()
    settings = StackSettings(port=procs.free_port(), processes=2, pooler=True, pooler_pool_size=POOL,
                             server_cpus=cpus.partition().server_list).validate()
    s = stack.up(settings, state=state)
    try:
        yield s
    finally:
        remove_state_dir(state)


@pytest.fixture(scope="module")
def session_stack():
    """The same in session mode: what prepared statements through the pooler need."""
    state = make_state_dir()
    settings = StackSettings(port=procs.free_port(), processes=2, pooler=True, pooler_mode="session").validate()
    s = stack.up(settings, state=state)
    try:
        yield s
    finally:
        remove_state_dir(state)


def app_dsn(s) -> str:
    """The handlers' role through the pooler, with the suite's copy of its passfile."""
    return s.pooler.dsn(postgres.APP_ROLE, s.pg.secrets / f"{postgres.APP_ROLE}.pgpass")


def hammer(dsn: str, clients: int, seconds: float, sleep_s: float = 0.02) -> int:
    """`clients` threads, each connecting per query (as the bouncer variant does) for `seconds`; queries done."""
    done = []
    stop = time.monotonic() + seconds

    def client():
        n = 0
        while time.monotonic() < stop:
            conn = psycopg2.connect(dsn)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(%s)", (sleep_s,))
            conn.close()
            n += 1
        done.append(n)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def sampled(s, tmp_path: Path, clients: int, seconds: float = 3.0) -> ConnectionFigures:
    path = tmp_path / f"pooler-{clients}.jsonl"
    sampler = pooler_stats.for_stack(s, path)
    assert sampler is not None and sampler.pooler is not None
    sampler.interval = 0.1
    sampler.start()
    start = time.time()
    try:
        assert hammer(app_dsn(s), clients, seconds) > 0
    finally:
        sampler.stop()
    return pooler_stats.summary(path, start, time.time())


def test_twenty_clients_share_the_pool_and_wait_for_it(pooled_stack, tmp_path):
    got = sampled(pooled_stack, tmp_path, clients=20)
    assert got.samples >= 10
    assert 1 <= got.server_connections_peak <= POOL  # PostgreSQL never sees more than the pool
    assert got.client_connections_peak > POOL
    assert got.cl_waiting_peak > 0 and got.maxwait_ms_peak is not None
    assert got.wait_per_xact_us > 0
    assert got.backend_forks_per_s < 1  # the pool's backends are reused, not forked per connection
    assert set(got.to_json()) == set(ConnectionFigures.keys()) - {"pool_size", "pooler_mode"}  # the trial adds those


def test_one_client_per_server_connection_does_not_wait(pooled_stack, tmp_path):
    got = sampled(pooled_stack, tmp_path, clients=1, seconds=2.0)
    assert got.server_connections_peak <= POOL
    assert got.cl_waiting_peak == 0


def test_without_a_pooler_the_sampler_reads_postgresql_alone(pooled_stack, tmp_path):
    path = tmp_path / "direct.jsonl"
    sampler = pooler_stats.PoolerSampler(path, pooled_stack.admin_dsn, interval=0.1).start()
    start = time.time()
    for _ in range(15):  # a connection per request straight to PostgreSQL: a backend forked each time
        assert get(pooled_stack.url + "/cache-only/db", headers={"Connection": "close"})[0] == 200
    time.sleep(1.2)  # backends flush their session counts at most once a second
    sampler.stop()
    got = pooler_stats.summary(path, start, time.time())
    assert got.client_connections_peak is None and got.cl_waiting_peak is None  # not measured, not 0
    assert got.backend_forks_per_s > 0


def test_the_bouncer_variant_connects_through_the_pooler(pooled_stack):
    for path in ("/bouncer/db", "/bouncer/fortunes", "/bouncer/queries?queries=3", "/bouncer/updates?queries=2"):
        status, headers, body = get(pooled_stack.url + path)
        assert status == 200, (path, body)
    auth = {"Authorization": "Basic YmVuY2g6YmVuY2g="}  # bench:bench, the seeded account
    assert get(pooled_stack.url + "/bouncer/auth", headers=auth)[0] == 200
    before = pooled_stack.pooler.show("STATS")
    for _ in range(10):
        assert get(pooled_stack.url + "/bouncer/db")[0] == 200
    after = pooled_stack.pooler.show("STATS")

    def xacts(rows):
        return next(r["total_xact_count"] for r in rows if r["database"] == "bench")

    assert xacts(after) - xacts(before) >= 10  # every request went through PgBouncer


@pytest.mark.parametrize("variant", [v for v in vocabulary.VARIANTS if vocabulary.through_pooler(v)])
def test_techempower_rules_and_auth_through_the_pooler(request, variant):
    """What tests/handlers/test_handlers_tfb.py and test_auth.py check on the shared stacks, which run no pooler."""
    pooled_stack = request.getfixturevalue("session_stack" if vocabulary.needs_session_pooler(variant)
                                           else "pooled_stack")
    techempower.test_db(pooled_stack, variant)
    techempower.test_fortunes(pooled_stack, variant)
    for workload in ("queries", "updates"):
        for arg, count in (("2", 2), ("0", 1), ("501", 500)):
            techempower.test_query_count_clamping(pooled_stack, variant, workload, arg, count)
    assert get(f"{pooled_stack.url}/{variant}/auth")[0] == 401
    wrong = {"Authorization": "Basic YmVuY2g6d3Jvbmc="}  # bench:wrong
    assert get(f"{pooled_stack.url}/{variant}/auth", headers=wrong)[0] == 401


def test_prepared_through_a_session_pooler_prepares_once_per_kept_connection(session_stack):
    session_stack.apache.graceful()  # new children: new kept connections, whose server sessions were reset
    prepared = []
    for _ in range(30):
        status, headers, body = get(session_stack.url + "/prepared-bouncer/db")
        assert status == 200, body
        prepared.append(int(headers["X-Bench-Prepared"]))
    # Each process's kept connection to PgBouncer keeps its server connection, and the statement on it.
    assert 1 <= sum(prepared) <= session_stack.settings.processes
    pools = {r["database"]: r for r in session_stack.pooler.show("POOLS")}
    assert pools["bench"]["pool_mode"] == "session"


def test_files_sockets_and_secrets(pooled_stack):
    s = pooled_stack
    root = s.state / "pgbouncer"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for name in ("pgbouncer.ini", "userlist.txt"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
    dsn_file = s.apache.root / "pooler.dsn"
    assert stat.S_IMODE(dsn_file.stat().st_mode) == 0o600
    passwords = [secrets.find_password(s.dsn), secrets.find_password(s.admin_dsn),
                 secrets.find_password(s.pooler.stats_dsn)]
    assert all(passwords)
    readable = [p for p in [*root.iterdir(), dsn_file, s.state / "state.json", s.apache.conf] if p.is_file()]
    for path in readable:
        text = path.read_text(errors="replace")
        assert not any(pw in text for pw in passwords), path
    assert "SCRAM-SHA-256$" in (root / "userlist.txt").read_text()
    listening = {c.laddr.ip for c in psutil.Process(s.pooler.pid()).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}
    # On the server CPUs, like PostgreSQL and Apache: the pooler's work is the server's, not the generator's.
    assert set(psutil.Process(s.pooler.pid()).cpu_affinity()) <= cpus.parse_cpus(s.settings.server_cpus)
    assert s.status()["pooler"]["alive"] and "password" not in s.status()["pooler"]["dsn"]


def test_bench_up_prints_the_pooler_dsn_and_down_stops_it():
    state = make_state_dir()
    try:
        port = str(procs.free_port())
        up = bench_cli("up", "--pooler", "--pooler-mode", "session", "--processes", "1", "--port", port,
                       env={"BENCH_STATE_DIR": str(state)})
        assert up.returncode == 0, up.stderr
        assert "PgBouncer (session mode, pool 1): host=127.0.0.1" in up.stdout
        pid = int((state / "pgbouncer" / "pgbouncer.pid").read_text())
        assert procs.alive(pid)
        down = bench_cli("down", env={"BENCH_STATE_DIR": str(state)})
        assert down.returncode == 0 and f"pgbouncer {pid}" in down.stdout, down.stdout
        assert not procs.alive(pid) and not procs.processes_mentioning(str(state))
    finally:
        remove_state_dir(state)


@pytest.mark.parametrize("args,message", [
    (("up", "--pooler", "--pooler-pool-size", "0"), "--pooler-pool-size 0 is out of range"),
    (("up", "--pooler", "--pooler-mode", "statement"), "--pooler-mode 'statement' is not valid"),
    (("run", "--variants", "bouncer", "--dsn", "host=127.0.0.1 dbname=x"), "point --dsn at your own PgBouncer"),
    (("run", "--variants", "naive,pooled", "--mpm", "worker", "--processes", "32", "--threads", "4"),
     "or run the bouncer variant alone (--variants bouncer"),
])
def test_bad_pooler_input_is_one_line_and_starts_nothing(args, message):
    state = make_state_dir()
    r = bench_cli(*args, "--port", str(procs.free_port()), env={"BENCH_STATE_DIR": str(state)})
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert not procs.processes_mentioning(str(state)) and not (state / "state.json").exists()
    remove_state_dir(state)


def test_a_pooler_port_in_use_is_one_line_and_starts_nothing():
    state = make_state_dir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = bench_cli("up", "--pooler", "--pooler-port", str(taken.getsockname()[1]), "--port",
                      str(procs.free_port()), env={"BENCH_STATE_DIR": str(state)})
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "--pooler-port" in r.stderr, r.stderr
    assert not procs.processes_mentioning(str(state))
    remove_state_dir(state)


@pytest.mark.parametrize("binary,expected", [("/nonexistent/pgbouncer", "PgBouncer not found"),
                                             ("/bin/false", "failed")])
def test_a_missing_or_failing_pgbouncer_leaves_nothing_running(monkeypatch, binary, expected):
    monkeypatch.setattr(pgbouncer, "BINARY", Path(binary))
    state = make_state_dir()
    settings = StackSettings(port=procs.free_port(), processes=1, pooler=True).validate()
    with pytest.raises(UserError, match=expected):
        stack.up(settings, state=state)
    assert not procs.processes_mentioning(str(state))
    assert not (state / "state.json").exists()
    remove_state_dir(state)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_bouncer_run_leaves_no_pgbouncer(tmp_path, sig):
    state = make_state_dir()
    env = {**os.environ, "BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--workloads", "db", "--variants", "bouncer",
                             "--trials", "5", "--duration", "3", "--warmup", "1", "--users", "2", "--processes", "1",
                             "--port", str(procs.free_port()), "--no-report"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        procs.wait_for(lambda: (state / "pgbouncer" / "pgbouncer.pid").exists() and (state / "state.json").exists(),
                       120, "the run's PgBouncer")
        pid = int((state / "pgbouncer" / "pgbouncer.pid").read_text())
        proc.send_signal(sig)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not procs.alive(pid) and not procs.processes_mentioning(str(state))
    remove_state_dir(state)


def test_another_pgbouncer_on_the_machine_is_never_touched():
    """Debian's own (or anyone's) PgBouncer keeps running through our up and down."""
    other = Path(tempfile.mkdtemp(prefix="other-pgbouncer-", dir="/var/tmp"))  # reachable by the postgres account
    user = procs.service_user("postgres")
    if user is not None:
        os.chown(other, user.pw_uid, user.pw_gid)
    ini = other / "other.ini"
    ini.write_text(f"[databases]\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {procs.free_port()}\n"
                   f"unix_socket_dir =\nauth_type = trust\nlogfile = {other}/other.log\npidfile = {other}/other.pid\n")
    ini.chmod(0o644)
    state = make_state_dir()
    try:
        procs.run([str(pgbouncer.BINARY), "-d", "-q", str(ini)], user=user, cwd="/")
        procs.wait_for(lambda: (other / "other.pid").exists(), 10, "the other PgBouncer")
        foreign = int((other / "other.pid").read_text())
        env = {"BENCH_STATE_DIR": str(state)}
        up = bench_cli("up", "--pooler", "--processes", "1", "--port", str(procs.free_port()), env=env)
        assert up.returncode == 0, up.stderr
        ours = int((state / "pgbouncer" / "pgbouncer.pid").read_text())
        assert ours != foreign
        assert bench_cli("down", env=env).returncode == 0
        assert not procs.alive(ours) and procs.alive(foreign)
    finally:
        remove_state_dir(state)
        for p in procs.processes_mentioning(str(ini)):
            procs.stop_tree(p.pid)
        shutil.rmtree(other, ignore_errors=True)
