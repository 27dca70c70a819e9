"""What the registry's tests share: one isolation, one `git()`, one way to run the helper, and
throwaway registries built from this repository's files.

Every registry a test touches is a copy in a temporary folder with its own bare `origin` and its
own DVC remote directory, so the suite never reads or writes this repository's tags, its real
DVC remote or the user's git and DVC configuration. Git and DVC are real; nothing is mocked.
The template's own tests load this module too, so both suites isolate the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# The files that make a folder a registry (the helper, README and CI are not needed).
REGISTRY_FILES = ("registry.yaml", ".gto", "dvc.yaml", ".dvc/config", ".dvc/.gitignore",
                  ".dvcignore", ".gitignore")
IDENTITY = {
    "GIT_AUTHOR_NAME": "Registry Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Registry Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
}
# Variables that would point git or DVC at another repository, index or date if inherited
# (a git hook, for one, runs with GIT_DIR and GIT_INDEX_FILE set).
INHERITED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
             "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_COMMITTER_DATE",
             "GIT_AUTHOR_DATE", "DVC_ROOT")


def isolation(home: Path) -> dict[str, str | None]:
    """The environment changes (None: unset) that make git and DVC answer the same anywhere:
    a git identity, git and DVC configs of our own in `home` (empty, but for a new repository's
    branch being `main` whatever the machine's git prefers), none of the user's or system's."""
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    changes: dict[str, str | None] = {**IDENTITY, "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
                                      "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1"}
    for var, sub in (("DVC_GLOBAL_CONFIG_DIR", "dvc-global"),
                     ("DVC_SYSTEM_CONFIG_DIR", "dvc-system"),
                     ("DVC_SITE_CACHE_DIR", "dvc-site-cache")):
        changes[var] = str(home / sub)
    changes.update(dict.fromkeys(INHERITED))
    return changes


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory):
    """The isolation, applied to this test session's environment (and so to every child)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolation(tmp_path_factory.mktemp("config-home")).items():
            if value is None:
                mp.delenv(key, raising=False)
            else:
                mp.setenv(key, value)
        yield


def git(cwd, *args: str, env: dict | None = None) -> str:
    """Run git and return its stdout; a failure is a broken fixture, so it raises."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env} if env else None)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def helper_env(root=ROOT, env: dict | None = None) -> dict:
    """This environment with the helper of the registry checkout `root` first on the Python
    path, plus `env` (dates, identities, config)."""
    path = os.pathsep.join(p for p in (str(Path(root) / "src"), os.environ.get("PYTHONPATH"))
                           if p)
    return {**os.environ, "PYTHONPATH": path, **(env or {})}


def run_registry(cwd, *args: str, env: dict | None = None, root=ROOT,
                 check: bool = False) -> subprocess.CompletedProcess:
    """`registry ARGS` run in `cwd` as a user runs it: a new process, its exit status kept (with
    `check`, a failure raises, for a fixture's steps); the helper is that of checkout `root`."""
    proc = subprocess.run([sys.executable, "-m", "model_registry", *args], cwd=cwd,
                          capture_output=True, text=True, env=helper_env(root, env))
    if check and proc.returncode != 0:
        raise AssertionError(f"registry {' '.join(args)} exited {proc.returncode}: "
                             f"{proc.stderr}{proc.stdout}")
    return proc


def _without_remote(config: str, remote: str) -> str:
    """`.dvc/config` minus the section of `remote`, whose options may only suit its real URL
    (an S3 endpoint, say), so that section can be given whole in config.local instead."""
    header = re.compile(rf"""^\[\s*'?remote\s+"{re.escape(remote)}"'?\s*\]$""")
    kept, skipping = [], False
    for line in config.splitlines(keepends=True):
        if line.strip().startswith("["):
            skipping = bool(header.match(line.strip()))
        if not skipping:
            kept.append(line)
    return "".join(kept)


@dataclass
class RegistryRepo:
    """A throwaway registry: its work tree, its bare `origin` and its DVC remote directory."""

    path: Path
    origin: Path
    storage: Path
    stages: list[str] = field(default_factory=list)

    def cli(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return run_registry(self.path, *args, env=env)

    def git(self, *args: str, env: dict | None = None) -> str:
        return git(self.path, *args, env=env)

    def state(self) -> dict:
        """What a failed command must leave as it was: commits, tags, branches, work tree."""
        return {"refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
                "status": self.git("status", "--porcelain", "--untracked-files=all"),
                # copies register makes as it hashes, which git ignores
                "staged": sorted(p.name for p in self.path.glob(".dvc/tmp/registry-*"))}


def make_registry(base: Path) -> RegistryRepo:
    """Build a registry under `base` from this repository's own registry files."""
    repo, origin, storage = base / "registry", base / "origin.git", base / "dvc-remote"
    repo.mkdir(parents=True)
    storage.mkdir()
    for name in REGISTRY_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, repo / name)
    (repo / "models").mkdir()

    # Keep this registry's stages, but not its policies: the workflow tests exercise the
    # mechanics, so a stricter card profile, promotion order or signing rule set here must
    # not make them fail (tests that need a policy write their own).
    settings = yaml.safe_load((repo / "registry.yaml").read_text()) or {}
    settings.update(card_profile="standard", promotion={}, require_signed_tags=False)
    (repo / "registry.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    remote = settings.get("remote") or "storage"

    config = repo / ".dvc" / "config"
    config.write_text(_without_remote(config.read_text(), remote))
    (repo / ".dvc" / "config.local").write_text(
        f"['remote \"{remote}\"']\n    url = {storage}\n")

    git(base, "init", "--quiet", "-b", "main", str(repo))
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Create the registry")
    git(base, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "--quiet", "origin", "main")
    return RegistryRepo(repo, origin, storage, list(settings.get("stages") or []))
