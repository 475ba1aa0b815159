"""Issue 9 items 6, 7, 8: no trust authentication, an unprivileged handler role, no leaked DSN password,
and the --dsn connection budget, on the real stack."""

import os
import stat
import subprocess
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from conftest import bench_cli, get, make_state_dir, remove_state_dir

from bench.stack import postgres, procs
from bench.stack.secrets import find_password, redact_dsn

pytestmark = pytest.mark.slow(45)  # the tests of its live_stack

PASSWORD = "Leak-Me-Not-7f3a"


def as_nobody(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/sbin/runuser", "-u", "nobody", "--", "sh", "-c", command], capture_output=True,
                          text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "HOME": "/"}, cwd="/")


@pytest.mark.parametrize("dsn,expected", [
    ("host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d"),
    ("host=h password='se cret\\' x' user=u", "host=h password=*** user=u"),
    ("PASSWORD = secret user=u", "PASSWORD = *** user=u"),
    ("postgresql://u:secret@h:5432/d", "postgresql://u:***@h:5432/d"),
    ("postgres://u:secret@h/d?sslmode=require&password=two", "postgres://u:***@h/d?sslmode=require&password=***"),
    ("postgresql://u@h/d", "postgresql://u@h/d"),
    ("host=h user=u passfile=/x/.pgpass", "host=h user=u passfile=/x/.pgpass"),
    (None, None),
])
def test_redact_dsn(dsn, expected):
    assert redact_dsn(dsn) == expected


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS user")
def test_other_os_users_cannot_log_in_or_read_secrets(live_stack):
    port = live_stack.pg.port
    for role in (postgres.ADMIN_ROLE, postgres.APP_ROLE, "postgres"):
        r = as_nobody(f"psql -w -h 127.0.0.1 -p {port} -U {role} -d bench -c 'select 1'")
        assert r.returncode != 0 and "no password supplied" in r.stderr, (role, r.stderr)
    secret_files = [*(live_stack.state / "secrets").iterdir(), live_stack.apache.passfile]
    assert len(secret_files) == 3
    for f in secret_files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert as_nobody(f"cat {f}").returncode != 0, f
    assert live_stack.apache.passfile.owner() == "www-data"
    assert stat.S_IMODE((live_stack.state / "secrets").stat().st_mode) == 0o700
    assert stat.S_IMODE((live_stack.state / "state.json").stat().st_mode) == 0o600


@pytest.mark.integration
def test_handlers_role_reads_and_updates_benchmark_tables_only(live_stack):
    conn = psycopg2.connect(live_stack.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT current_user, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                    "WHERE rolname = current_user")
        assert cur.fetchone() == (postgres.APP_ROLE, False, False, False)
        cur.execute("SELECT count(*) FROM world")
        cur.execute("SELECT count(*) FROM fortune")
        cur.execute("UPDATE world SET randomnumber = randomnumber WHERE id = 1")
        for sql in ("SELECT pg_read_file('/etc/hostname')", "DELETE FROM world WHERE id = 0",
                    "INSERT INTO fortune VALUES (99, 'x')", "CREATE TABLE mine (x int)", "CREATE TEMP TABLE t (x int)",
                    "SELECT * FROM pg_authid"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(sql)
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        psycopg2.connect(live_stack.dsn.replace("dbname=bench", "dbname=postgres"))


@pytest.mark.integration
def test_handlers_connect_as_the_unprivileged_role(live_stack):
    for _ in range(6):
        assert get(live_stack.url + "/pooled/db", headers={"Connection": "close"})[0] == 200
    conn = psycopg2.connect(live_stack.admin_dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'bench' "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        assert [r[0] for r in cur.fetchall()] == [postgres.APP_ROLE]
    conn.close()
    conf = live_stack.apache.conf.read_text()
    assert find_password(live_stack.dsn) not in conf and "password" not in conf


@pytest.fixture(scope="module")
def leak_role(live_stack):
    """A password role on the suite's PostgreSQL, standing in for a user's existing server (--dsn)."""
    conn = psycopg2.connect(live_stack.admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE leak_test LOGIN PASSWORD '{PASSWORD}'")
        cur.execute("GRANT CONNECT ON DATABASE bench TO leak_test")
        cur.execute("GRANT SELECT ON world, fortune TO leak_test")
        cur.execute("GRANT UPDATE ON world TO leak_test")
    yield f"host=127.0.0.1 port={live_stack.pg.port} dbname=bench user=leak_test"
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'leak_test'")
        cur.execute("DROP OWNED BY leak_test")
        cur.execute("DROP ROLE leak_test")
    conn.close()


def files_with(folder: Path, needle: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.integration
@pytest.mark.parametrize("form", ["keyword", "url", "PGPASSWORD", "passfile"])
def test_dsn_password_never_leaks(live_stack, leak_role, form, tmp_path):
    base = leak_role
    env = {}
    if form == "keyword":
        dsn = f"{base} password={PASSWORD}"
    elif form == "url":
        dsn = f"postgresql://leak_test:{PASSWORD}@127.0.0.1:{live_stack.pg.port}/bench"
    elif form == "PGPASSWORD":
        dsn, env = base, {"PGPASSWORD": PASSWORD}
    else:
        passfile = tmp_path / "pgpass"
        passfile.write_text(f"127.0.0.1:{live_stack.pg.port}:bench:leak_test:{PASSWORD}\n")
        passfile.chmod(0o600)
        dsn = f"{base} passfile={passfile}"
    state = make_state_dir()
    env["BENCH_STATE_DIR"] = str(state)
    port = procs.free_port()
    try:
        outputs = [bench_cli("up", "--port", str(port), "--processes", "2", "--dsn", dsn, env=env, timeout=120)]
        assert outputs[0].returncode == 0, outputs[0].stderr
        assert get(f"http://127.0.0.1:{port}/pooled/db")[0] == 200
        assert get(f"http://127.0.0.1:{port}/naive/fortunes")[0] == 200
        outputs += [bench_cli("status", env=env), bench_cli("status", "--json", env=env)]
        for out in outputs:
            assert PASSWORD not in out.stdout + out.stderr
        # Only the handlers' passfile holds it: 0600, the Apache user's.
        holders = files_with(state, PASSWORD)
        assert holders == [state / "apache" / "handler.pgpass"]
        assert stat.S_IMODE(holders[0].stat().st_mode) == 0o600
        if os.geteuid() == 0:
            assert holders[0].owner() == "www-data"
        assert PASSWORD not in (state / "apache" / "httpd.conf").read_text()
    finally:
        down = bench_cli("down", env=env)
        assert PASSWORD not in down.stdout + down.stderr
        assert files_with(state, PASSWORD) == []
        remove_state_dir(state)


@pytest.mark.integration
def test_run_folder_has_no_dsn_password(live_stack, leak_role, tmp_path):
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(tmp_path / "runs")}
    try:
        r = bench_cli("run", "--dsn", f"{leak_role} password={PASSWORD}", "--port", str(procs.free_port()),
                      "--processes", "2", "--users", "2", "--workloads", "db", "--variants", "pooled",
                      "--trials", "1", "--duration", "3", "--warmup", "1", env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert PASSWORD not in r.stdout + r.stderr
        run = next((tmp_path / "runs").iterdir())
        assert (run / "results.json").exists() and list(run.rglob("report.md"))
        assert files_with(run, PASSWORD) == [] and files_with(state, PASSWORD) == []
        assert "password=***" in (run / "results.json").read_text()
    finally:
        remove_state_dir(state)


@pytest.mark.integration
def test_dsn_connection_budget_uses_the_servers_real_limits(live_stack):
    state = make_state_dir()
    # 60 processes x 2 + 3 = 123 > 100 - 3 reserved - those in use; the embedded max (1000) is irrelevant.
    r = bench_cli("up", "--dsn", live_stack.admin_dsn, "--processes", "60", "--pg-max-connections", "1000",
                  "--port", str(procs.free_port()), env={"BENCH_STATE_DIR": str(state)})
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "needs 123 PostgreSQL connections but the server of --dsn has" in r.stderr
    assert "max_connections 100 - superuser_reserved_connections 3" in r.stderr
    assert procs.processes_mentioning(str(state)) == [] and not (state / "state.json").exists()
    remove_state_dir(state)
