#!/usr/bin/env bash
# Installs what the suite needs on Debian 12: apt packages when missing, then the virtual environment.
# Usage: scripts/bootstrap.sh [--tests]   (--tests adds what only the test suite needs: Chromium)
# Prints one line per step; apt's and pip's own output goes to .venv/bootstrap.log, and its tail is shown
# only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# pgbouncer: the private external pooler of the `bouncer` variant (bench.stack.pgbouncer); its Debian service is
# never started (the policy-rc.d below), the suite runs its own on loopback only.
packages=(apache2 libapache2-mod-python libapache2-mod-wsgi-py3 python3-psycopg2 postgresql pgbouncer python3-venv python3-pip wrk)
if [ "${1:-}" = "--tests" ]; then
  packages+=(chromium iproute2)  # iproute2: `ip netns` of the two-machine test
fi

mkdir -p .venv
log=.venv/bootstrap.log
: >"$log"

# run WHAT CMD...: CMD's output goes to the log; on failure, say what failed and show the log's tail.
run() {
  local what=$1 status=0
  shift
  echo "\$ $*" >>"$log"
  "$@" >>"$log" 2>&1 </dev/null || status=$?
  if [ $status -ne 0 ]; then
    echo "failed (exit $status)"
    echo "error: $what failed (exit $status); the end of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "packages: all ${#packages[@]} present"
else
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
    echo "error: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  printf 'packages: installing %s ... ' "${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A temporary policy-rc.d keeps Debian from starting the system Apache (port 80 on every interface),
  # PostgreSQL and PgBouncer (6432) services at install time: the suite runs its own, on loopback only.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  trap '[ $added_policy -eq 0 ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  run "apt-get update" "${sudo[@]}" apt-get update
  run "apt-get install ${missing[*]}" "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  [ $added_policy -eq 0 ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  trap - EXIT
  echo "done"
fi

# The orchestrator's virtual environment, on Debian's Python 3.11 (the one mod_python embeds).
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ -f "$stamp" ]; then
  echo "venv: .venv up to date"
else
  printf 'venv: installing .[test] and tox into .venv (log: %s) ... ' "$log"
  start=$SECONDS
  [ -x .venv/bin/python ] || run "python3 -m venv .venv" /usr/bin/python3 -m venv .venv
  run "pip install --upgrade pip" .venv/bin/pip install --upgrade pip
  run "pip install -e .[test] tox" .venv/bin/pip install -e '.[test]' tox
  rm -f .venv/.installed-*
  touch "$stamp"
  echo "done in $((SECONDS - start)) s"
fi
