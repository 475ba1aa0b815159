"""Machine facts and versions recorded with every run, so a result can be reproduced and compared."""

import importlib.metadata
import os
import platform
import re
import socket
import subprocess

import psutil

from bench import paths


def _cmd(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "cpu_model": _cpu_model(),
        "hostname": socket.gethostname(),
        "os": _os_release(),
    }


def _os_release() -> str:
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def _dist(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _deb(package: str) -> str:
    return _cmd("dpkg-query", "-W", "-f=${Version}", package) or "unknown"


def suite_commit() -> str:
    commit = _cmd("git", "-C", str(paths.REPO), "rev-parse", "--short", "HEAD") or "unknown"
    dirty = _cmd("git", "-C", str(paths.REPO), "status", "--porcelain", "--untracked-files=no")
    return commit + ("-dirty" if dirty else "")


def versions(server_header: str | None = None, postgres_version: str | None = None) -> dict:
    """Versions of every part; the Server header names what Apache really loaded (mod_python, Python)."""
    header = server_header or ""
    mp = re.search(r"mod_python/(\S+)", header)
    py = re.search(r"Python/(\S+)", header)
    apache = re.search(r"Apache/(\S+)", header)
    return {
        "apache": apache.group(1) if apache else _deb("apache2"),
        "mod_python": mp.group(1) if mp else _deb("libapache2-mod-python"),
        "python_embedded": py.group(1) if py else "unknown",
        "psycopg2_embedded": _deb("python3-psycopg2"),
        "postgresql": postgres_version or "unknown",
        "python": platform.python_version(),
        "locust": _dist("locust"),
        "psycopg2": _dist("psycopg2-binary"),
        "numpy": _dist("numpy"),
        "suite_commit": suite_commit(),
        "server_header": header,
    }
