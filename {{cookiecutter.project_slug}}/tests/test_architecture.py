"""The helper's structure, read from its source: DVC and the S3 clients stay inside the storage
package (DVC inside storage/dvc.py alone), commands reach each other only through the layers
below them, the CLI reaches them only through the API, and no two modules import each other,
directly or through others, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "model_registry"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE
STORAGE_ONLY = {"dvc", "dvc_data", "dvc_objects", "botocore", "boto3", "s3fs", "fsspec"}
DVC_ONLY = {"dvc", "dvc_data", "dvc_objects"}
DVC_MODULE = f"{PACKAGE}.storage.dvc"


def modules() -> dict[str, Path]:
    """Every module of the helper by dotted name; a package by its own name."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(SRC).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known=frozenset()) -> set[str]:
    """The dotted names the module `name` imports anywhere in its source, relative ones made
    absolute. `from X import Y` names X.Y where that is one of the `known` modules, else X.
    Modules named by a constant string to `importlib.import_module` count too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            found.update(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known
                         else source for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) == "import_module" and node.args
                and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
    return found


def top_level(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_only_the_storage_package_imports_dvc_and_the_s3_clients():
    outside = {name: sorted(top_level(imports(name, path)) & STORAGE_ONLY)
               for name, path in modules().items()
               if not name.startswith(f"{PACKAGE}.storage")}
    assert not {n: found for n, found in outside.items() if found}, outside


def test_only_storage_dvc_imports_dvc():
    found = {name: sorted(top_level(imports(name, path)) & DVC_ONLY)
             for name, path in modules().items() if name != DVC_MODULE}
    assert not {n: dvc for n, dvc in found.items() if dvc}
    assert top_level(imports(DVC_MODULE, modules()[DVC_MODULE])) >= DVC_ONLY


def graph() -> dict[str, set[str]]:
    """Each module to the helper's modules it imports."""
    known = modules()
    return {name: imports(name, path, known.keys()) & known.keys() - {name}
            for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it (first = last), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_commands_share_the_core_and_never_import_each_other():
    commands = {n for n in modules() if n.startswith(f"{PACKAGE}.commands.")}
    crossing = {name: sorted(graph()[name] & commands) for name in commands}
    assert not {n: found for n, found in crossing.items() if found}, crossing


def test_the_command_line_reaches_the_commands_only_through_the_api():
    reached = graph()[f"{PACKAGE}.cli"]
    assert f"{PACKAGE}.api" in reached
    assert not {n for n in reached if n.startswith((f"{PACKAGE}.commands", f"{PACKAGE}.core"))}


def test_the_cycle_finder_reports_a_cycle_through_relative_imports(tmp_path):
    """The checks above are only as good as the import resolution they rest on."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    from .sub import b\n")
    (tmp_path / "pkg" / "sub").mkdir()
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("from . import b\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("from .. import a\nimport dvc.repo\n")
    files = {"pkg": "__init__.py", "pkg.a": "a.py", "pkg.sub": "sub/__init__.py",
             "pkg.sub.b": "sub/b.py"}
    found = {name: imports(name, tmp_path / "pkg" / path, files.keys())
             for name, path in files.items()}
    assert found == {"pkg": set(), "pkg.a": {"pkg.sub.b"}, "pkg.sub": {"pkg.sub.b"},
                     "pkg.sub.b": {"pkg.a", "dvc.repo"}}
    edges = {name: names & files.keys() for name, names in found.items()}
    assert find_cycle(edges) == ["pkg.a", "pkg.sub.b", "pkg.a"]
