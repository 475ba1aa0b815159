#!/usr/bin/env bash
# Installs what the suite needs on Debian 12: apt packages when missing, then the virtual environment.
# Usage: scripts/bootstrap.sh [--tests]   (--tests adds what only the test suite needs: Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(apache2 libapache2-mod-python libapache2-mod-wsgi-py3 python3-psycopg2 postgresql python3-venv python3-pip wrk)
if [ "${1:-}" = "--tests" ]; then
  packages+=(chromium iproute2)  # iproute2: `ip netns` of the two-machine test
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
    echo "error: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # A temporary policy-rc.d keeps Debian from starting the system Apache (port 80 on every interface)
  # and PostgreSQL services at install time: the suite runs its own, on loopback only.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  status=0
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ $added_policy -eq 0 ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  [ $status -eq 0 ] || { echo "error: apt-get install ${missing[*]} failed (exit $status)" >&2; exit 1; }
fi

# The orchestrator's virtual environment, on Debian's Python 3.11 (the one mod_python embeds).
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]' tox
  rm -f .venv/.installed-*
  touch "$stamp"
fi
