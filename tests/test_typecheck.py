"""The type checker that tox runs (`mypy bench reports`, configured in pyproject.toml) catches a record field
read under a wrong name or as a wrong type, and tox runs it in both environments."""

import configparser
import dataclasses
import importlib
import tomllib
from pathlib import Path

import pytest
from mypy import api

REPO = Path(__file__).resolve().parents[1]

# A frozen record dataclass of bench.record, one of its float fields, and that field misspelt.
RECORD_MODULE, RECORD_CLASS, FIELD, MISSPELT = "bench.record.stats", "Ratio", "ratio", "raito"

READERS = {
    "reads_right": f"def factor(r: {RECORD_CLASS}) -> float:\n    return r.{FIELD}\n",
    "reads_misspelt": f"def factor(r: {RECORD_CLASS}) -> float:\n    return r.{MISSPELT}\n",
    "reads_as_str": f"def label(r: {RECORD_CLASS}) -> str:\n    return r.{FIELD}\n",
}


def mypy_errors(tmp: Path) -> dict[str, list[str]]:
    """mypy with the project's configuration over one small module per reader; its error lines by module."""
    for name, body in READERS.items():
        (tmp / f"{name}.py").write_text(f"from {RECORD_MODULE} import {RECORD_CLASS}\n\n\n{body}")
    # follow_imports=silent: bench's own modules are read for their types, not reported on (the whole tree is
    # tox's job); a cache of our own keeps the run independent of any other. From the repository's root, where
    # mypy finds `bench` (the editable install's import hook is invisible to it).
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        stdout, stderr, _ = api.run(["--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(tmp / "cache"),
                                     "--follow-imports", "silent", "--no-error-summary", "--show-absolute-path",
                                     *[str(tmp / f"{name}.py") for name in READERS]])
    assert not stderr, stderr
    errors: dict[str, list[str]] = {name: [] for name in READERS}
    for line in stdout.splitlines():
        name = Path(line.split(":", 1)[0]).stem
        assert name in errors, f"mypy reported on something else: {line}"
        errors[name].append(line)
    return errors


def test_the_record_field_exists() -> None:
    record = getattr(importlib.import_module(RECORD_MODULE), RECORD_CLASS)
    names = {f.name for f in dataclasses.fields(record)}
    assert FIELD in names and MISSPELT not in names, "pick another record field for this test"


def test_mypy_fails_a_misspelt_or_wrongly_typed_record_field(tmp_path: Path) -> None:
    # One mypy run (about 4 s) for the three readers.
    errors = mypy_errors(tmp_path)
    assert errors["reads_right"] == []
    [misspelt] = errors["reads_misspelt"]
    assert f'"{RECORD_CLASS}" has no attribute "{MISSPELT}"' in misspelt and "[attr-defined]" in misspelt
    [wrong_type] = errors["reads_as_str"]
    assert 'Incompatible return value type (got "float", expected "str")' in wrong_type


def test_tox_runs_mypy_in_both_environments() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    for env in ("testenv", "testenv:fast"):
        commands = [c.strip() for c in tox[env]["commands"].splitlines()]
        assert "mypy bench reports" in commands, env
        assert commands.index("mypy bench reports") < next(i for i, c in enumerate(commands) if c.startswith("pytest"))


def test_the_configuration_is_strict() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    for flag in ("disallow_untyped_defs", "disallow_incomplete_defs", "check_untyped_defs", "no_implicit_optional",
                 "strict_equality", "warn_unused_ignores"):
        assert config.get(flag) is True, flag
