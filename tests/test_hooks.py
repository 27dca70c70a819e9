"""The hooks: bad answers stop the bake before a registry exists; a good bake ends as a git
repository without ever needing DVC; and cruft can re-run them to deliver template updates.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException

from support import IDENTITY, TEMPLATE, bake_template, git

TEMPLATE_PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}")

BAD_ANSWERS = [
    pytest.param({"project_slug": "Bad Slug"}, "project_slug", id="slug-space"),
    pytest.param({"project_slug": "-x"}, "project_slug", id="slug-leading-dash"),
    pytest.param({"stages": "dev,pro d"}, "stage", id="stage-space"),
    pytest.param({"stages": "dev,#prod"}, "stage", id="stage-hash"),
    pytest.param({"stages": "dev,prod@x"}, "stage", id="stage-at"),
    pytest.param({"stages": "dev,,prod"}, "stages", id="stage-empty"),
    pytest.param({"stages": "dev,dev"}, "stages", id="stage-duplicate"),
    pytest.param({"local_remote_path": "storage"}, "local_remote_path", id="local-relative"),
    pytest.param({"remote": "s3", "s3_url": "http://x"}, "s3_url", id="s3-scheme"),
    pytest.param({"remote": "s3", "s3_url": "s3://A_B"}, "s3_url", id="s3-bucket"),
    pytest.param({"remote": "s3", "s3_endpoint_url": "localhost:9000"}, "s3_endpoint_url",
                 id="s3-endpoint"),
    pytest.param({"contact_email": "nobody"}, "contact_email", id="email"),
]


def cookiecutter_cli(output: Path, *answers: str, env: dict | None = None,
                     flags: tuple[str, ...] = ()):
    """`cookiecutter --no-input [FLAGS] TEMPLATE -o OUTPUT key=value...`, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", *flags, str(TEMPLATE),
         "-o", str(output), *answers],
        capture_output=True, text=True, env=env or cli_env(output.parent))


def cli_env(tmp: Path, **overrides: str) -> dict:
    """The test's environment with a HOME of its own, so no user cookiecutter config applies."""
    home = tmp / "cli-home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), **overrides}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ------------------------------------------------------------------ pre-gen: answers


@pytest.mark.parametrize("answers, field", BAD_ANSWERS)
def test_pre_gen_rejects_bad_answer(bake, tmp_path, capfd, answers, field):
    """A bad answer stops the bake with one line naming the field; no project is left behind."""
    with pytest.raises(FailedHookException):
        bake(**answers)

    assert list(tmp_path.iterdir()) == []
    [line] = error_lines(capfd.readouterr().err)
    assert line.startswith(f"error: {field} ")


@pytest.mark.parametrize("answer, field", [
    ("project_slug=Bad Slug", "project_slug"),
    ("stages=dev,prod@x", "stage"),
    ("local_remote_path=storage", "local_remote_path"),
])
def test_pre_gen_error_on_the_command_line(tmp_path, answer, field):
    """From the cookiecutter command, the user sees a failure and one `error:` line to act on."""
    out = tmp_path / "out"
    out.mkdir()
    proc = cookiecutter_cli(out, answer)

    assert proc.returncode != 0
    assert list(out.iterdir()) == []
    [line] = error_lines(proc.stderr)
    assert line.startswith(f"error: {field} ")


def test_unchosen_remote_answers_are_not_checked(bake):
    """With remote=local an unused s3_url cannot block the bake, and the reverse."""
    assert bake(remote="local", s3_url="http://x").is_dir()
    assert bake(remote="s3", project_slug="s3-registry", local_remote_path="storage").is_dir()


def test_hook_name_grammar_is_the_helpers():
    """The hook's copy of the tag name grammar must not drift from the helper's, its source."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text()
    [assignment] = [line for line in source.splitlines() if line.startswith("NAME_PATTERN =")]
    hook_pattern = ast.literal_eval(assignment.split("=", 1)[1].strip())
    # -B: importing from the template must not leave __pycache__ there to be baked into registries.
    helper = subprocess.run(
        [sys.executable, "-B", "-c", "from model_registry.tags import NAME_PATTERN; "
                                     "print(NAME_PATTERN)"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(TEMPLATE_PROJECT / "src")})

    assert hook_pattern == helper.stdout.strip()


# ------------------------------------------------------------------ post-gen: git


def test_skip_git_init(bake, monkeypatch):
    """REGISTRY_SKIP_GIT_INIT=1 leaves git alone but still prunes the unchosen CI files."""
    monkeypatch.setenv("REGISTRY_SKIP_GIT_INIT", "1")
    repo = bake(ci="none")

    assert not (repo / ".git").exists()
    assert not (repo / ".github").exists()
    assert not (repo / ".gitlab-ci.yml").exists()


def test_bake_inside_a_work_tree_adds_no_nested_repo(tmp_path):
    """Baked into a monorepo, the registry becomes part of it rather than a nested repository."""
    outer = tmp_path / "monorepo"
    git(tmp_path, "init", "--quiet", "-b", "main", str(outer))
    repo = bake_template(outer)

    assert not (repo / ".git").exists()
    assert git(repo, "rev-parse", "--show-toplevel") == str(outer.resolve())
    assert git(outer, "status", "--porcelain") == f"?? {repo.name}/"


def test_without_git_identity_the_printed_commands_finish_the_job(tmp_path):
    """No identity: the repository exists, nothing is committed, and the two printed commands
    are exactly what it takes to make the first commit."""
    empty_config = tmp_path / "empty.gitconfig"
    empty_config.touch()
    env = cli_env(tmp_path, GIT_CONFIG_GLOBAL=str(empty_config))
    for key in (*IDENTITY, "EMAIL"):
        env.pop(key, None)
    out = tmp_path / "out"
    proc = cookiecutter_cli(out, f"local_remote_path={tmp_path / 'storage'}", env=env)
    assert proc.returncode == 0, proc.stderr
    repo = out / "model-registry"

    assert (repo / ".git").is_dir()
    assert subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=repo,
                          env=env).returncode != 0
    commands = [line.strip() for line in proc.stdout.splitlines()
                if line.strip().startswith("git ")]
    assert len(commands) == 2
    for command in commands:
        subprocess.run(command, shell=True, cwd=repo, env=env, check=True, capture_output=True)
    assert git(repo, "rev-list", "--count", "HEAD") == "1"
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("adopt", [False, True], ids=["new", "adopt"])
def test_hooks_never_need_dvc(tmp_path, adopt):
    """Baking works where DVC is absent: neither `import dvc` nor the `dvc` command is touched,
    also when adopting a repository, whose stages the baked helper reads from its tags."""
    tripped = tmp_path / "dvc-was-used"
    package = tmp_path / "no-dvc" / "python" / "dvc"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"open({str(tripped)!r}, 'a').write('import dvc\\n')\n"
        "raise ImportError('dvc is not installed')\n")
    command = tmp_path / "no-dvc" / "bin" / "dvc"
    command.parent.mkdir()
    command.write_text(f"#!/bin/sh\necho \"dvc $*\" >> '{tripped}'\nexit 127\n")
    command.chmod(0o755)
    env = cli_env(tmp_path, PYTHONPATH=str(package.parent),
                  PATH=f"{command.parent}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    repo = out / "model-registry"
    flags = ()
    if adopt:
        git(tmp_path, "init", "--quiet", "-b", "main", str(repo))
        git(repo, "commit", "--quiet", "--allow-empty", "-m", "Start")
        for tag in ("churn@v1.0.0", "churn#prod#1"):
            git(repo, "tag", "--annotate", "--message", tag, tag)
        flags = ("--overwrite-if-exists", "--skip-if-file-exists")

    proc = cookiecutter_cli(out, "remote=s3", env=env, flags=flags)

    assert proc.returncode == 0, proc.stderr
    assert not tripped.exists()
    assert git(repo, "rev-list", "--count", "HEAD") == "1"
    if adopt:
        stages = yaml.safe_load((repo / "registry.yaml").read_text())["stages"]
        assert stages == ["prod", "dev", "staging"]


# ------------------------------------------------------------------ cruft: hooks re-run


@pytest.fixture
def template_repo(tmp_path):
    """The template as its own git repository, which is what cruft links a registry to."""
    repo = tmp_path / "template"
    for part in TEMPLATE_PARTS:
        source = TEMPLATE / part
        if source.is_dir():
            shutil.copytree(source, repo / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            repo.mkdir(exist_ok=True)
            shutil.copy2(source, repo / part)
    git(tmp_path, "init", "--quiet", "-b", "main", str(repo))
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Template")
    return repo


def cruft(cwd: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(Path(sys.executable).parent / "cruft"), *args], cwd=cwd,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.mark.parametrize("update_env", [
    pytest.param({"REGISTRY_SKIP_GIT_INIT": "1"}, id="skip-git-init"),
    pytest.param({}, id="plain"),
])
def test_cruft_update_delivers_a_template_change(template_repo, tmp_path, update_env):
    """A registry created with cruft receives a later template change through `cruft update`,
    and nothing else: the hooks re-run by cruft must not leak into the update."""
    env = cli_env(tmp_path)
    out = tmp_path / "out"
    cruft(tmp_path, "create", str(template_repo), "--no-input", "--output-dir", str(out), env=env)
    project = out / "model-registry"
    git(project, "add", ".cruft.json")
    git(project, "commit", "--quiet", "-m", "Link the registry to its template")

    line = "# Reviewed by the platform team.\n"
    with open(template_repo / "{{cookiecutter.project_slug}}" / "registry.yaml", "a") as f:
        f.write(line)
    git(template_repo, "commit", "--quiet", "--all", "-m", "Note the review")
    cruft(project, "update", "--skip-apply-ask", env={**env, **update_env})

    assert (project / "registry.yaml").read_text().endswith(line)
    changed = {entry.split()[-1] for entry in git(project, "status", "--porcelain").splitlines()}
    assert changed == {"registry.yaml", ".cruft.json"}
