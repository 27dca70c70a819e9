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
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import yaml

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


def on_terminal(argv: list[str], cwd, env: dict) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal for stdout and stderr, as a person runs a command:
    its exit status and what the terminal showed. The terminal is read while it runs, so a
    command that prints a lot never waits on a full buffer."""
    import threading

    main, other = os.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=other,
                            stderr=other, env=env)
    os.close(other)
    shown: list[bytes] = []

    def pump() -> None:
        while True:
            try:
                data = os.read(main, 1 << 16)
            except OSError:  # EIO: every writer of the terminal has gone
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    proc.wait()
    reader.join(timeout=30)
    os.close(main)
    return proc.returncode, b"".join(shown).decode(errors="replace")


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


# ------------------------------------------------------------ training repositories (lineage)

# A prepare stage: split the raw data (params.yaml's prepare.split) into a folder.
PREPARE = """\
import os, yaml
split = yaml.safe_load(open("params.yaml"))["prepare"]["split"]
rows = open("data/raw.csv").read().splitlines()
cut = int(len(rows) * (1 - split))
os.makedirs("data/prepared", exist_ok=True)
open("data/prepared/train.csv", "w").write("\\n".join(rows[:cut]))
open("data/prepared/test.csv", "w").write("\\n".join(rows[cut:]))
"""
RAW = "\n".join(f"{i},{i % 3}" for i in range(40))


def dvc(cwd, *args: str) -> str:
    """`dvc ARGS` in `cwd`, run by this interpreter; the stages it runs find this venv's python
    (with PyYAML and DVCLive) first on PATH. A failure is a broken fixture, so it raises."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PATH": path})
    if proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
    return proc.stdout


def data_source(folder: Path, store: Path | None = None) -> Path:
    """A git + DVC repository holding raw.csv (pushed to the DVC remote `store`, if given),
    for a training repository to `dvc import` from."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet", "-b", "main")
    dvc(folder, "init", "--quiet")
    if store:
        dvc(folder, "remote", "add", "-d", "store", str(store))
    (folder / "raw.csv").write_text(RAW)
    dvc(folder, "add", "--quiet", "raw.csv")
    git(folder, "add", "-A")
    git(folder, "commit", "--quiet", "-m", "raw data")
    if store:
        dvc(folder, "push", "--quiet")
    return folder


def training_repo(folder: Path, train: str, params: dict, raw_from: Path | None = None,
                  outs: tuple[str, ...] = ()) -> Path:
    """A training repository with a real DVC pipeline, not yet run: data/raw.csv imported from
    the repository `raw_from` (else added with `dvc add`), params.yaml, a `prepare` stage
    (PREPARE) and a `train` stage running the script `train`, whose outputs are model.pkl and
    `outs`. The caller runs `dvc repro` and commits."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet", "-b", "main")
    dvc(folder, "init", "--quiet")
    (folder / "data").mkdir()
    if raw_from:
        dvc(folder, "import", "--quiet", str(raw_from), "raw.csv", "-o", "data/raw.csv")
    else:
        (folder / "data" / "raw.csv").write_text(RAW)
        dvc(folder, "add", "--quiet", "data/raw.csv")
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    (folder / "prepare.py").write_text(PREPARE)
    (folder / "train.py").write_text(train)
    py = Path(sys.executable).name
    dvc(folder, "stage", "add", "--quiet", "-n", "prepare", "-p", "prepare.split",
        "-d", "prepare.py", "-d", "data/raw.csv", "-o", "data/prepared", f"{py} prepare.py")
    extra = [arg for out in ("model.pkl", *outs) for arg in ("-o", out)]
    dvc(folder, "stage", "add", "--quiet", "-n", "train", "-p", "train", "-d", "train.py",
        "-d", "data/prepared", *extra, f"{py} train.py")
    return folder


def train_run(folder: Path, lr: float) -> dict:
    """Train once in the training repository `folder` with params.yaml's train.lr set to `lr`
    (`dvc repro`, then a commit); returns the stages dvc.lock records for that run."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["train"]["lr"] = lr
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    dvc(folder, "repro", "--quiet")
    git(folder, "add", "-A")
    git(folder, "commit", "--quiet", "-m", f"train with lr {lr}")
    return yaml.safe_load((folder / "dvc.lock").read_text())["stages"]
