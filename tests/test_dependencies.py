"""Tests of the dependency list in ``pyproject.toml``: every lower bound is met by what is installed (so a floor
raised above what CI installs fails here, not at a user's import), every pin in the constraints file is at or above
its floor, and the declared runtime dependencies are exactly the distributions that ``jaxgan/`` imports (a package
nothing imports, or an import nothing declares, fails here).

The floors themselves were found by installing exactly them in a scratch venv and running the quick suite (README,
"Development"); these checks are cheap and run against whatever versions are installed.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
DEV = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"]]
BENCH = [Requirement(r) for r in PROJECT["optional-dependencies"]["bench"]]


def _floor(req: Requirement) -> Version:
    floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert len(floors) == 1, f"{req}: give exactly one '>=' floor"
    return floors[0]


def test_every_dependency_has_a_floor_and_no_pin():
    for req in RUNTIME + DEV:
        _floor(req)
        assert not any(s.operator in ("==", "~=", "===") for s in req.specifier), f"{req}: a library must not pin"


def test_installed_versions_meet_the_floors():
    too_old = []
    for req in RUNTIME + DEV:
        try:
            installed = Version(importlib.metadata.version(req.name))
        except importlib.metadata.PackageNotFoundError:
            assert req in DEV, f"{req.name} is a dependency of jaxgan but is not installed"
            continue  # a dev tool this venv does without (ruff, say)
        if installed not in req.specifier:
            too_old.append(f"{req} but {installed} is installed")
    assert not too_old, "floors above the installed versions: " + "; ".join(too_old)


def test_constraint_pins_meet_the_floors():
    floors = {canonicalize_name(r.name): r for r in RUNTIME + DEV}
    for path in ROOT.glob("constraints-py*.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            pin = Requirement(line)
            req = floors.get(canonicalize_name(pin.name))
            if req is not None:
                (version,) = (Version(s.version) for s in pin.specifier if s.operator == "==")
                assert version in req.specifier, f"{path.name}: {pin} is outside pyproject's {req}"


def _imported_top_level_modules(package: Path, skip: tuple[str, ...] = ()) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] in skip:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"jaxgan", "__future__"}


def test_declared_dependencies_are_the_imported_ones():
    dists = importlib.metadata.packages_distributions()
    declared = {canonicalize_name(r.name) for r in RUNTIME}
    imported = set()
    for module in _imported_top_level_modules(ROOT / "jaxgan", skip=("bench",)):
        assert module in dists, f"jaxgan imports {module!r}, which no installed distribution provides"
        providers = {canonicalize_name(d) for d in dists[module]}  # several for a namespace package (orbax)
        imported.update(providers & declared or providers)
    unused = declared - imported - {"jaxlib"}  # jaxlib: declared for its floor (jax's own pin allows older)
    assert not unused, f"declared in pyproject.toml but never imported by jaxgan/: {unused}"
    assert not imported - declared, f"imported by jaxgan/ but not declared in pyproject.toml: {imported - declared}"


def test_the_benchmark_imports_the_runtime_dependencies_and_the_bench_extra_only():
    """``jaxgan/bench`` (``jaxgan bench``) may import torch, declared as the ``bench`` extra, and nothing else
    beyond the runtime dependencies."""
    allowed = {canonicalize_name(r.name) for r in RUNTIME + BENCH}
    allowed.add("threadpoolctl")  # the BLAS threads in the env record, inside try/except; scikit-learn brings it
    for module in _imported_top_level_modules(ROOT / "jaxgan" / "bench"):
        assert canonicalize_name(module) in allowed, f"jaxgan/bench imports {module!r}, declared nowhere"
