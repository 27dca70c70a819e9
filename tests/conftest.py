"""Shared fixtures: bake the template into a temp folder and drive its helper for real.

Everything is real: cookiecutter renders the template, git repositories (a bare one as
`origin`), DVC with a local remote directory, and the baked helper run as `python -m
model_registry` from the baked source, exactly what a user of the registry gets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3_server import s3_server  # noqa: F401  (SeaweedFS on loopback, for the S3 tests)

TEMPLATE = Path(__file__).resolve().parents[1]
IDENTITY = {
    "GIT_AUTHOR_NAME": "Registry Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Registry Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
}


@pytest.fixture(autouse=True, scope="session")
def isolated_env(tmp_path_factory):
    """A git identity and config of our own, so tests behave the same on any machine."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in IDENTITY.items():
            patch.setenv(key, value)
        patch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        patch.setenv("DVC_NO_ANALYTICS", "1")
        patch.delenv("GIT_DIR", raising=False)
        yield


def bake_template(output: Path, template: Path = TEMPLATE, **answers) -> Path:
    """Run cookiecutter non-interactively; returns the baked registry's folder."""
    from cookiecutter.main import cookiecutter

    answers.setdefault("local_remote_path", str(output / "dvc-storage"))
    return Path(cookiecutter(str(template), no_input=True, output_dir=str(output),
                             extra_context=answers))


@pytest.fixture
def bake(tmp_path):
    return lambda **answers: bake_template(tmp_path, **answers)


def git(cwd, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def helper_env(repo, env: dict | None = None) -> dict:
    """The environment that runs the helper baked into `repo`, plus `env` (dates, config)."""
    return {**os.environ, "PYTHONPATH": str(Path(repo) / "src"), **(env or {})}


def registry(repo, *args: str, check: bool = True, cwd=None,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the baked helper (`registry ARGS`) in `repo`, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "model_registry", *args], cwd=cwd or repo,
                          capture_output=True, text=True, env=helper_env(repo, env))
    if check and proc.returncode != 0:
        raise AssertionError(f"registry {' '.join(args)} exited {proc.returncode}: "
                             f"{proc.stderr}{proc.stdout}")
    return proc


def with_origin(repo: Path, root: Path) -> Path:
    """Give a baked registry a bare `origin` in `root` and push main to it; returns origin."""
    origin = root / "origin.git"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "--quiet", "origin", "main")
    return origin

