"""Reading the deployment files the way Docker, Compose and Kubernetes would, for the checks in
test_deploy_files.py (no engine runs here: these parsers are what can run)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wingman import metrics
from wingman.cli import app as cli_app
from wingman.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS = {f"WINGMAN_{name.upper()}" for name in Settings.model_fields}


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [args for o, args in self.instructions if o == op]


def dockerfile(path: Path) -> list[Stage]:
    """Stages of a Dockerfile: continuations joined, comments and parser directives dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        op, _, args = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            stages[-1].instructions.append((op, args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    """A JSON-array instruction argument, or the shell form split like a shell."""
    return list(json.loads(args)) if args.startswith("[") else shlex.split(args)


def copy_parts(args: str) -> tuple[dict[str, str], list[str], str]:
    """COPY [--flag=value ...] SRC... DEST -> flags, sources, destination."""
    words = exec_form(args)
    flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
    rest = [w for w in words if not w.startswith("--")]
    return flags, rest[:-1], rest[-1]


def dockerignored(rel: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    rel = rel.rstrip("/").removeprefix("./")
    for p in patterns:
        p = p.removeprefix("**/")
        if rel == p or rel.startswith(p + "/") or Path(rel).match(p):
            return True
    return False


def commands() -> dict[str, set[str]]:
    """`wingman` subcommands and their --options (the Typer app itself)."""
    import typer.main

    group = typer.main.get_command(cli_app)
    out: dict[str, set[str]] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        out[name] = {opt for param in command.params for opt in getattr(param, "opts", [])}
    return out


def check_command(argv: list[str], where: str) -> None:
    known = commands()
    assert argv and argv[0] in known, f"{where}: `wingman {argv[:1]}` is not a wingman command"
    for word in argv[1:]:
        if word.startswith("--"):
            assert word.split("=")[0] in known[argv[0]], f"{where}: `wingman {argv[0]}` has no {word}"


def metric_names() -> set[str]:
    """Every series name the wingman collectors expose (histograms: _bucket/_count/_sum)."""
    names: set[str] = set()
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if describe is None or not getattr(value, "_name", "").startswith("wingman_"):
            continue
        for family in describe():
            base = family.name
            kind = family.type
            if kind == "histogram":
                names |= {base, f"{base}_bucket", f"{base}_count", f"{base}_sum"}
            elif kind == "counter":
                names |= {f"{base}_total"}
            else:
                names.add(base)
    return names


def wingman_metrics_in(text: str) -> set[str]:
    return set(re.findall(r"\bwingman_[a-z_]+\b", text))


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def substitute(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?message} with a stand-in value."""
    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        if ":-" in body:
            return body.split(":-", 1)[1]
        return "x" * 40  # long enough for WINGMAN_SECRET_KEY's minimum
    return re.sub(r"\$\{([^}]*)\}", one, value)
