"""The package's layout rules (docs/design.md, "Layout"), read from the source: the library does not import the
application, orbax and device placement each live in one module, large modules say why, tests mirror modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxgan"
APPLICATION = ("run", "bench", "configs")  # folders of jaxgan/ that are not the library
DEVICE_APIS = ("pmap", "shard_map", "Mesh", "NamedSharding", "device_put", "distributed")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_library(path: Path) -> bool:
    parts = path.relative_to(PACKAGE).parts
    return not (len(parts) > 1 and parts[0] in APPLICATION)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def test_the_library_does_not_import_the_application():
    found = set()
    for path in filter(_is_library, _modules()):
        for name in _imports(path):
            if any(name == f"jaxgan.{a}" or name.startswith(f"jaxgan.{a}.") for a in APPLICATION):
                found.add((_rel(path), name.rsplit(".", 1)[0] if name.count(".") > 2 else name))
    assert not found, f"library modules importing jaxgan.run / jaxgan.bench / jaxgan.configs: {sorted(found)}"


def test_orbax_is_imported_by_the_checkpoint_module_only():
    users = {_rel(p) for p in _modules() if any(n.split(".")[0] == "orbax" for n in _imports(p))}
    assert users == {"jaxgan/checkpoint.py"}


def test_device_placement_lives_in_the_parallel_module_only():
    """``jax.pmap``, ``shard_map``, ``Mesh``, ``device_put`` and ``jax.distributed`` appear as code in
    ``parallel.py`` only (the benchmark times steps on one device and is outside the library)."""
    users = set()
    for path in filter(_is_library, _modules()):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in DEVICE_APIS:
                users.add(_rel(path))
        if any(n.split(".")[-1] in DEVICE_APIS for n in _imports(path)):
            users.add(_rel(path))
    assert users == {"jaxgan/parallel.py"}


def test_modules_over_400_lines_say_why_in_their_docstring():
    unexplained = []
    for path in _modules():
        text = path.read_text()
        if len(text.splitlines()) > 420:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Size:" not in doc:
                unexplained.append(f"{_rel(path)} ({len(text.splitlines())} lines)")
    assert not unexplained, f"over ~400 lines without a 'Size:' reason in the module docstring: {unexplained}"


def test_every_module_has_a_docstring():
    missing = [_rel(p) for p in _modules() if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing, missing


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports anywhere in its code (at module level or in a function):
    ``import a.b`` and ``from a.b import c`` import ``a.b``, or ``a.b.c`` where that is a module itself; a name
    that no module of ``modules`` bears is taken for a name of the longest module that it starts with."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(owner(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: from its package, one level up per dot after the first
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.update(owner(f"{base}.{alias.name}") for alias in node.names)
    return found - {None, _module_name(path)}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (scipy's ``connected_components``)."""
    from scipy.sparse import lil_matrix
    from scipy.sparse.csgraph import connected_components

    names = sorted(graph)
    number = {name: i for i, name in enumerate(names)}
    adjacency = lil_matrix((len(names), len(names)), dtype=bool)
    for name, imported in graph.items():
        for other in imported:
            adjacency[number[name], number[other]] = True
    _, component = connected_components(adjacency.tocsr(), directed=True, connection="strong")
    groups: dict[int, list[str]] = {}
    for name, c in zip(names, component, strict=True):
        groups.setdefault(int(c), []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def test_no_import_cycles_among_the_package_modules():
    """No two modules of ``jaxgan`` import each other, directly or through others, counting the imports inside
    functions too (a lazy import is still a dependency) and ``__init__.py`` files as the modules of their packages."""
    paths = {_module_name(p): p for p in _modules()}
    graph = {name: _imported_modules(path, set(paths)) for name, path in paths.items()}
    assert "jaxgan.run.config" in graph["jaxgan.run.experiment"]  # the graph is read, not empty
    assert "jaxgan.run.sampling" in graph["jaxgan.run.cli"]  # a function-level `from jaxgan.run import sampling`
    cycles = _cycles(graph)
    described = [
        f"a circle of {len(cycle)} files: {', '.join(_rel(paths[m]) for m in cycle)}; its imports:\n    "
        + "\n    ".join(f"{_rel(paths[a])} -> {_rel(paths[b])}" for a in cycle for b in sorted(graph[a] & set(cycle)))
        for cycle in cycles
    ]
    assert not cycles, "modules that import each other, directly or in a circle:\n" + "\n".join(described)
