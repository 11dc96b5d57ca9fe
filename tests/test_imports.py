"""The package reads bottom-up: no module imports one from a higher layer, and no import circle.

The layer table below is the one drawn in docs/architecture.md. Every module of ``planner``
must appear in it (a new module fails this test until it is placed), and both module-level and
function-level imports count: a lazy import that runs upward is still an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]

#: layer -> module name prefixes (``planner.network`` covers the whole package).
LAYERS: list[tuple[str, ...]] = [
    ("planner.errors", "planner.settings", "planner._validate", "planner.projection", "planner.provenance",
     "planner.log", "planner.clock"),
    ("planner.coords", "planner.siting"),
    ("planner.demand",),
    ("planner.region",),
    ("planner.stations", "planner.grid", "planner.gazetteer"),
    ("planner.registry", "planner.io", "planner.network"),
    ("planner.access",),
    ("planner.coverage", "planner.candidates", "planner.charging", "planner.ev"),
    ("planner.scenario", "planner.report", "planner.desk"),
    ("planner.workspace",),
    ("planner.cli", "planner.__main__", "planner"),
]


#: Inside a package split by job: package -> levels of its modules, bottom first. A module may
#: import only modules of lower levels of its own package (and the package's __init__ re-exports
#: them all); drawn in docs/architecture.md ("Inside the packages").
INSIDE: dict[str, list[tuple[str, ...]]] = {
    "planner.stations": [("schema", "text", "messages"), ("location",), ("hours",), ("validate",)],
    "planner.registry": [("policy",), ("db",), ("stations", "users")],
    "planner.coverage": [("nearest", "intervals"), ("corridors", "demand_access"), ("layers",)],
    "planner.scenario": [("costs", "metrics", "layers"), ("models",), ("suggest",)],
    "planner.network": [("speeds", "vehicle"), ("build", "osm", "store", "snap"), ("index",), ("graph",)],
}


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            covers = module == prefix or (prefix != "planner" and module.startswith(prefix + "."))
            if covers and len(prefix) > best_len:
                best, best_len = level, len(prefix)
    assert best is not None, f"{module} is in no layer: place it in LAYERS here and in docs/architecture.md"
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def planner_imports(path: Path) -> set[str]:
    """Every ``planner...`` module a file imports, at any depth of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "planner")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "planner":
                continue
            for alias in node.names:  # ``from planner.siting import lagrangian`` imports a module
                sub = f"{mod}.{alias.name}"
                found.add(sub if (ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                          or (ROOT / Path(*sub.split("."))).is_dir() else mod)
    found.discard(name)
    return found


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in sorted((ROOT / "planner").rglob("*.py")):
        g.add_node(module_name(path))
        for target in planner_imports(path):
            g.add_edge(module_name(path), target)
    return g


def test_every_module_has_a_layer():
    for module in _graph().nodes:
        layer_of(module)


def test_no_import_runs_upward():
    upward = [
        f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
        for src, dst in _graph().edges
        if layer_of(dst) > layer_of(src)
    ]
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_no_import_circle_between_modules():
    g = _graph()
    # a package's __init__ re-exporting its own modules is not a circle between rooms
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".") or a.startswith(b + ".")])
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import circles: {cycles[:5]}"


def test_geodata_imports_nothing_from_planner():
    for path in sorted((ROOT / "geodata").glob("*.py")):
        if path.name.startswith("build_"):
            continue  # the build recipes use the planner's validation on purpose; the loader does not
        assert not planner_imports(path), f"{path.name} imports from planner"


def test_architecture_doc_draws_every_layer():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [prefix for prefixes in LAYERS for prefix in prefixes if prefix != "planner" and prefix not in doc]
    inside = doc.split("## Inside the packages", 1)[-1]
    missing += [f"{package}.{name}" for package, levels in INSIDE.items() for names in levels for name in names
                if f"{name}.py" not in inside.split(package, 1)[-1]]
    assert not missing, f"docs/architecture.md does not place: {missing}"


def test_packages_split_by_job_read_bottom_up():
    g = _graph()
    problems = []
    for package, levels in INSIDE.items():
        level = {f"{package}.{name}": i for i, names in enumerate(levels) for name in names}
        present = {m for m in g.nodes if m.startswith(package + ".")}
        problems += [f"{m} is not placed in INSIDE[{package!r}]" for m in sorted(present - set(level))]
        problems += [f"INSIDE[{package!r}] names {m}, which does not exist" for m in sorted(set(level) - present)]
        for src, dst in g.edges:
            if src in level and dst.startswith(package + ".") and level.get(dst, -1) >= level[src]:
                problems.append(f"{src} (level {level[src]}) imports {dst} (level {level.get(dst)})")
            if src in level and dst == package:
                problems.append(f"{src} imports its own package's __init__ (import the module it needs)")
    assert not problems, "\n".join(problems)
