"""The copies of the vocabulary in handlers/ and scenarios/ (other interpreters, so they keep their own)
agree with bench.vocabulary."""

import ast
from pathlib import Path

import pytest

from bench import vocabulary

REPO = Path(__file__).resolve().parent.parent.parent
SCENARIOS_VOCABULARY = REPO / "scenarios" / "_bench" / "_vocabulary.py"


def constants(path: Path) -> dict[str, object]:
    """Module-level NAME = literal assignments; dict literals give their keys (handlers map name -> function)."""
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Dict):
                out[node.targets[0].id] = tuple(ast.literal_eval(k) for k in value.keys)
            else:
                try:
                    out[node.targets[0].id] = ast.literal_eval(value)
                except ValueError:
                    continue
    return out


def literal(path: Path, name: str) -> object:
    """The whole literal assigned to `name` at module level (a dict with its values, unlike `constants`)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise KeyError(name)


def test_variant_table_copies():
    # The variant table: the same variants with the same factors in every interpreter.
    for path in (REPO / "handlers" / "resources.py", SCENARIOS_VOCABULARY):
        assert literal(path, "VARIANT_FACTORS") == vocabulary.VARIANT_FACTORS, path
        assert "VARIANTS = tuple(VARIANT_FACTORS)" in path.read_text(), path
    assert literal(REPO / "handlers" / "resources.py", "FACTORS") == tuple(vocabulary.FACTORS)
    assert vocabulary.VARIANTS == tuple(vocabulary.VARIANT_FACTORS)
    assert all(set(kept) <= set(vocabulary.FACTORS) for kept in vocabulary.VARIANT_FACTORS.values())


def test_handlers_copies():
    resources = constants(REPO / "handlers" / "resources.py")  # imports mod_python: parsed, not imported
    workloads = constants(REPO / "handlers" / "workloads.py")
    assert resources["VARIANT_FACTORS"] == vocabulary.VARIANTS  # its keys; VARIANTS = tuple(VARIANT_FACTORS)
    assert workloads["DATABASE_WORKLOADS"] == vocabulary.WORKLOADS
    assert workloads["CEILINGS"] == vocabulary.CEILINGS
    assert workloads["DEMONSTRATIONS"] == vocabulary.DEMONSTRATIONS
    assert workloads["AUTHENTICATED"] == vocabulary.AUTHENTICATED
    auth = constants(REPO / "handlers" / "auth.py")
    assert (auth["ITERATIONS"], auth["CACHE_TTL_S"]) == (vocabulary.AUTH_ITERATIONS, vocabulary.AUTH_CACHE_TTL_S)
    sessions = constants(REPO / "handlers" / "sessions.py")
    assert sessions["COOKIE"] == vocabulary.SESSION_COOKIE
    assert tuple(sessions["SESSIONS"]) == vocabulary.SESSIONS


def test_scenarios_copies():
    users = constants(SCENARIOS_VOCABULARY)
    assert users["VARIANT_FACTORS"] == vocabulary.VARIANTS  # its keys; VARIANTS = tuple(VARIANT_FACTORS)
    for name in ("WORKLOADS", "CEILINGS", "DEMONSTRATIONS", "AUTHENTICATED", "SESSIONS"):
        assert users[name] == getattr(vocabulary, name), name
    assert (users["AUTH_USER"], users["AUTH_PASSWORD"]) == (vocabulary.AUTH_USER, vocabulary.AUTH_PASSWORD)


def test_scenarios_declare_every_class():
    text = (REPO / "scenarios" / "locustfile.py").read_text()
    names = [vocabulary.class_name(w, v) for w in vocabulary.WORKLOADS for v in vocabulary.VARIANTS]
    names += [vocabulary.class_name(c) for c in vocabulary.CEILINGS]
    names += [vocabulary.session_class_name(s) for s in vocabulary.SESSIONS]
    for name in names:
        assert f"\n{name} = build_" in text, name


def _scenario_class_name():
    # The function itself, not a copy of its text: loaded from the file without running the locustfile.
    tree = ast.parse((SCENARIOS_VOCABULARY).read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "class_name")
    namespace: dict[str, object] = {}
    exec(compile(ast.Module([fn], type_ignores=[]), "_vocabulary.py", "exec"), namespace)
    return namespace["class_name"]


@pytest.mark.parametrize("workload,variant", [(w, v) for w in vocabulary.WORKLOADS + vocabulary.DEMONSTRATIONS
                                              for v in vocabulary.VARIANTS]
                         + [(c, None) for c in vocabulary.CEILINGS])
def test_class_names_agree(workload, variant):
    assert _scenario_class_name()(workload, variant) == vocabulary.class_name(workload, variant)


def test_handler_routes_match_url_shapes():
    # handler_entry routes /{variant}/{workload} and /{ceiling}: the shapes bench.vocabulary.url_path builds.
    text = (REPO / "handlers" / "handler_entry.py").read_text()
    assert "/{variant}/{workload}" in text and vocabulary.url_path("db", "pooled") == "/pooled/db"
