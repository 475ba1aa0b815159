"""Application variants (`--app-variant NAME[FACTOR,...]:KEY=VALUE,...`): the same application under several
environments, each in its own processes, so that a framework's persistence switches (Django's CONN_MAX_AGE, its
cached template loader) are measured as the suite measures its own variants.

Each variant is one cell of the run (workload `app`, variant NAME), served under mod_wsgi by its own daemon group
(`WSGIDaemonProcess bench-NAME`, the run's processes and threads) mounted at <--mount>/NAME. Its KEY=VALUEs reach
the daemon's os.environ before the application is imported (handlers/app_wsgi.py copies the `bench.env.*` values
Apache sets for that mount; settings such as DJANGO_SETTINGS_MODULE are read from os.environ at import, once per
process, which is why the processes must be apart). The factors in brackets say what the variant keeps across
requests; they map onto the attribution's factors (bench.vocabulary.FACTORS), so the 2x2 split and the one-factor
steps are found from them as for the suite's own variants, never from the names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import UserError
from bench.vocabulary import FACTORS

# The short names a user gives -> the attribution's factors. The attribution's own names are accepted too.
FACTOR_NAMES = {"connection": "pooled_connection", "template": "cached_template",
                "prepared": "prepared_statements"} | {f: f for f in FACTORS if f != "pooler_route"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHAPE = re.compile(r"(?P<name>[^\[\]:]*)(\[(?P<factors>[^\]]*)\])?(:(?P<env>.*))?", re.S)
SYNTAX = "NAME[FACTOR,...]:KEY=VALUE,... (e.g. 'pooled[connection,template]:DJANGO_SETTINGS_MODULE=mysite.pooled')"
ENV_PREFIX = "bench.env."  # Apache's SetEnv name of a variant's KEY, read by handlers/app_wsgi.py


@dataclass(frozen=True)
class AppVariant:
    """One --app-variant: its name (the cell's variant), the attribution factors it keeps, its environment."""

    name: str
    factors: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "factors": list(self.factors), "env": [list(kv) for kv in self.env]}

    @classmethod
    def from_dict(cls, d: dict) -> AppVariant:
        return cls(d["name"], tuple(d.get("factors") or ()), tuple(tuple(kv) for kv in d.get("env") or ()))

    @property
    def group(self) -> str:
        """Its mod_wsgi daemon group."""
        return f"bench-{self.name}"


def parse(text: str) -> AppVariant:
    """One --app-variant, checked: UserError (one line) naming the bad part and what is allowed."""
    m = _SHAPE.fullmatch(text.strip())
    if m is None:
        raise UserError(f"--app-variant {text!r} is not {SYNTAX}")
    name = m["name"].strip()
    if not name:
        raise UserError(f"--app-variant {text!r} has no name: give {SYNTAX}")
    if not _NAME.fullmatch(name):
        raise UserError(f"--app-variant {text!r}: name {name!r} is not up to 32 letters, digits and _- starting "
                        "with a letter or digit")
    if name == "server-status":
        raise UserError(f"--app-variant {text!r}: the name server-status is the suite's status page; choose another")
    factors = []
    for f in (x.strip() for x in (m["factors"] or "").split(",")):
        if not f:
            continue
        if f not in FACTOR_NAMES:
            raise UserError(f"--app-variant {text!r}: unknown factor {f!r}; allowed {', '.join(FACTOR_NAMES)}")
        if FACTOR_NAMES[f] not in factors:
            factors.append(FACTOR_NAMES[f])
    env = []
    for pair in (x.strip() for x in (m["env"] or "").split(",")):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        if not eq or not _KEY.fullmatch(key) or any(c in value for c in '"\\\n'):
            raise UserError(f"--app-variant {text!r}: {pair!r} is not KEY=VALUE (a key of letters, digits and _, "
                            "a value without quotes, backslashes or commas)")
        env.append((key, value))
    return AppVariant(name, tuple(sorted(factors, key=list(FACTORS).index)), tuple(env))


def parse_all(texts: Sequence[str]) -> tuple[AppVariant, ...]:
    """Every --app-variant, checked one by one, then together: names and kept factors are each given once."""
    variants = tuple(parse(t) for t in texts)
    seen: dict[str, str] = {}
    kept: dict[frozenset[str], str] = {}
    for text, v in zip(texts, variants, strict=True):
        if v.name in seen:
            raise UserError(f"--app-variant {text!r}: the name {v.name!r} is given twice (also {seen[v.name]!r}); "
                            "each variant needs its own name")
        seen[v.name] = text
        if frozenset(v.factors) in kept and len(variants) > 1:
            raise UserError(f"--app-variant {text!r} keeps the same factors as {kept[frozenset(v.factors)]!r} "
                            f"([{','.join(v.factors)}]): the attribution tells variants apart by what they keep")
        kept[frozenset(v.factors)] = text
    if len(variants) == 1:
        raise UserError(f"--app-variant {texts[0]!r} alone: give two or more (a variant is measured against "
                        "another), or serve one environment without --app-variant")
    return variants


def mount(app_mount: str, name: str) -> str:
    """Where a variant is served: <--mount>/NAME (its SCRIPT_NAME)."""
    return f"{app_mount.rstrip('/')}/{name}"


def location_lines(app_mount: str, variants: Sequence[AppVariant], script: str) -> str:
    """The mod_wsgi lines mounting each variant on its own daemon group, with its environment for app_wsgi.py."""
    out = []
    for v in variants:
        where = mount(app_mount, v.name)
        out.append(f'# --app-variant {v.name}: its own daemon group, its environment set before the import.')
        out.append(f'WSGIScriptAlias {where} "{script}" process-group={v.group} application-group=%{{GLOBAL}}')
        out.append(f'<Location "{where}">')
        out.extend(f'    SetEnv {ENV_PREFIX}{k} "{val}"' for k, val in v.env)
        out.append("</Location>")
    return "\n".join(out)
