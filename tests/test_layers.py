"""The package's layers: every import (deferred ones too) goes to the module's own layer or a lower one, and no
modules import each other in a circle. The layers are docs/architecture.md's, lowest first."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "vnerteach"
LAYERS = [  # lowest first; a module is in the first layer one of whose names its dotted name starts with
    ("base", ["errors", "failures", "files", "flags", "version", "activity"]),
    ("tasks", ["tasks"]),
    ("documents", ["documents"]),
    ("sources", ["sources"]),
    ("store", ["store"]),
    ("nlp", ["nlp"]),
    ("teach", ["teach"]),
    ("datasets", ["datasets"]),
    ("loop", ["loop"]),
    ("web", ["web"]),
    ("command", ["", "cli", "registry", "paths", "output", "__main__", "samples", "recipes"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    for rank, (_, names) in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names if n):
            return rank
    return len(LAYERS) - 1  # the package itself


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports, at any depth of the code but ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[:-1]
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = [p for p in here if p][:len([p for p in here if p]) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("vnerteach"):
                target = node.module.removeprefix("vnerteach").lstrip(".")
            else:
                continue
            for candidate in [f"{target}.{a.name}".lstrip(".") for a in node.names] + [target]:
                if candidate in modules:
                    found.add(candidate)
                    break
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("vnerteach").lstrip(".") for a in node.names
                      if a.name.startswith("vnerteach")} & modules
    return found - {module_name(path)}


def graph() -> dict[str, set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports(p, modules) for p in paths}


def test_no_module_imports_from_a_higher_layer():
    wrong = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
                   for m, deps in graph().items() for d in deps if layer_of(d) > layer_of(m))
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    deps, cycles = graph(), []
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(deps.get(m, ())):
            if state.get(d) == 1:
                cycles.append(path[path.index(d):] + [d] if d in path else [m, d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(deps):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_every_module_is_in_a_layer_the_architecture_names():
    """A new top-level module is placed on purpose: in a layer's package, or named in LAYERS."""
    top = {m for m in graph() if m and "." not in m and not (PACKAGE / m).is_dir()}
    named = {n for _, names in LAYERS for n in names}
    assert top <= named, sorted(top - named)
