"""What the template tests share: bake the template, give the baked registry an origin, and run
the helper baked into it.

Everything is real: cookiecutter renders the template, git repositories (a bare one as
`origin`), DVC with a local remote directory, and the baked helper run as `python -m
model_registry` from the baked source, exactly what a user of the registry gets. The isolation,
`git()` and the way to run the helper are the generated registry's own test support, so the two
suites cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

TEMPLATE = Path(__file__).resolve().parents[1]


def _generated_support():
    """The generated registry's tests/support.py, loaded from the template without writing
    bytecode into it (a __pycache__ there would be baked into every registry)."""
    path = TEMPLATE / "{{cookiecutter.project_slug}}" / "tests" / "support.py"
    spec = importlib.util.spec_from_file_location("registry_test_support", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


_shared = _generated_support()
IDENTITY = _shared.IDENTITY
git = _shared.git
helper_env = _shared.helper_env  # helper_env(repo, env): run the helper baked into `repo`
isolated_env = _shared.isolated_env


def registry(repo, *args: str, check: bool = True, cwd=None,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the baked helper (`registry ARGS`) in `repo`, as a user would."""
    return _shared.run_registry(cwd or repo, *args, env=env, root=repo, check=check)


def bake_template(output: Path, template: Path = TEMPLATE, **answers) -> Path:
    """Run cookiecutter non-interactively; returns the baked registry's folder."""
    from cookiecutter.main import cookiecutter

    answers.setdefault("local_remote_path", str(output / "dvc-storage"))
    return Path(cookiecutter(str(template), no_input=True, output_dir=str(output),
                             extra_context=answers))


def with_origin(repo: Path, root: Path) -> Path:
    """Give a baked registry a bare `origin` in `root` and push main to it; returns origin."""
    origin = root / "origin.git"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "--quiet", "origin", "main")
    return origin


class Baked(NamedTuple):
    """A registry baked into `root`, with its bare `origin` beside it (its DVC remote directory,
    for the local remote, is root/dvc-storage)."""

    root: Path
    repo: Path
    origin: Path

    def push(self) -> None:
        """Publish what was registered without --push: main and every tag."""
        git(self.repo, "push", "--quiet", "origin", "main", "--tags")

    def clone(self, name: str) -> Path:
        """A fresh clone of origin at root/NAME, as another machine gets the registry."""
        path = self.root / name
        git(self.root, "clone", "--quiet", str(self.origin), str(path))
        return path


def baked_world(root: Path, **answers) -> Baked:
    """The start of every shared registry: bake into `root` with `answers`, then an origin
    holding main."""
    repo = bake_template(root, **answers)
    return Baked(root, repo, with_origin(repo, root))
