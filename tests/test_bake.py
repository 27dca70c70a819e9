"""Baking: every combination of answers gives exactly the registry a user expects, committed.

The answers a user gives must land where the registry's tools read them (registry.yaml, .gto,
.dvc/config, pyproject.toml), and nothing of the template machinery may leak into the result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from configobj import ConfigObj

from support import TEMPLATE, git

TEMPLATE_PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
# Copied without rendering (cookiecutter.json `_copy_without_render`): the helper's source,
# tests and scripts may hold `{{` in their code and must reach the registry byte for byte.
# Their files are expected exactly as the template has them; every other file is listed here.
VERBATIM = ("src/model_registry", "tests", "scripts")

RENDERED = {
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".gitignore",
    ".gto",
    ".pre-commit-config.yaml",
    "README.md",
    "allowed_signers",
    "dvc.yaml",
    "models/.gitkeep",
    "pyproject.toml",
    "registry.yaml",
}
# What `registry` and `python -m model_registry` start from (pyproject.toml's console script).
HELPER_ENTRY_POINTS = {
    "src/model_registry/__init__.py",
    "src/model_registry/__main__.py",
    "src/model_registry/cli.py",
}
CI_FILES = {
    "github": {".github/workflows/review.yml", ".github/workflows/release.yml",
               ".github/workflows/tag.yml", ".github/workflows/promote.yml",
               ".github/workflows/verify.yml", ".github/workflows/pages.yml",
               ".github/pull_request_template.md",
               ".github/CODEOWNERS", "zizmor.yml"},
    "gitlab": {".gitlab-ci.yml"},
    "none": set(),
}
MARKERS = (b"{{", b"}}", b"{%", b"%}")
# GitHub Actions expressions look like Jinja; they must survive rendering as written.
GITHUB_EXPRESSION = re.compile(rb"\$\{\{[^{}]*\}\}")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by its relative POSIX path, with its bytes. Skips .git/, and the
    bytecode caches running the helper from a template checkout leaves (git ignores them)."""
    found = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] != ".git" and "__pycache__" not in relative.parts:
            found[relative.as_posix()] = path.read_bytes()
    return found


def is_verbatim(relative: str) -> bool:
    return any(relative.startswith(folder + "/") for folder in VERBATIM)


def assert_one_clean_commit_on_main(repo: Path) -> None:
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "rev-list", "--count", "HEAD") == "1"
    assert git(repo, "status", "--porcelain") == ""
    assert set(git(repo, "ls-files").splitlines()) == set(tree(repo))


def read_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def remote_section(repo: Path) -> dict:
    """The default DVC remote's settings, read the way DVC reads .dvc/config."""
    config = ConfigObj(str(repo / ".dvc" / "config"))
    return dict(config[f'remote "{config["core"]["remote"]}"'])


def dependencies(repo: Path) -> list[str]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]


@pytest.mark.parametrize("card_profile", ["standard", "eu-ai-act-high-risk"])
@pytest.mark.parametrize("ci", ["github", "gitlab", "none"])
@pytest.mark.parametrize("remote", ["local", "s3"])
def test_bake_matrix(bake, remote, ci, card_profile):
    """Each combination bakes exactly the registry's files, fully rendered, in one clean commit."""
    repo = bake(remote=remote, ci=ci, card_profile=card_profile)
    baked = tree(repo)
    verbatim = {path: content for path, content in tree(TEMPLATE_PROJECT).items()
                if is_verbatim(path)}

    assert set(baked) == RENDERED | CI_FILES[ci] | HELPER_ENTRY_POINTS | set(verbatim)
    assert {path: content for path, content in baked.items() if is_verbatim(path)} == verbatim
    leftovers = [(path, marker.decode()) for path, content in baked.items()
                 if not is_verbatim(path) for marker in MARKERS
                 if marker in GITHUB_EXPRESSION.sub(b"", content)]
    assert leftovers == []
    assert read_yaml(repo / "registry.yaml")["card_profile"] == card_profile
    assert_one_clean_commit_on_main(repo)


@pytest.mark.parametrize("stages", ["dev,qa,prod", " dev, qa ,prod"])
def test_stages_reach_registry_and_gto(bake, stages):
    """registry.yaml and .gto list the answered stages, in order, so the helper and gto agree."""
    repo = bake(stages=stages)

    assert read_yaml(repo / "registry.yaml")["stages"] == ["dev", "qa", "prod"]
    assert read_yaml(repo / ".gto")["stages"] == ["dev", "qa", "prod"]


@pytest.mark.parametrize("endpoint, expected", [
    pytest.param("http://localhost:9000", {"endpointurl": "http://localhost:9000"}, id="minio"),
    pytest.param("", {}, id="aws"),
])
def test_s3_remote(bake, endpoint, expected):
    """remote=s3 points DVC at the bucket (and endpoint, if any) and installs its S3 plugin."""
    repo = bake(remote="s3", s3_url="s3://acme-models/dvc", s3_endpoint_url=endpoint)

    assert remote_section(repo) == {"url": "s3://acme-models/dvc", **expected}
    assert read_yaml(repo / "registry.yaml")["remote"] == "storage"
    assert any(dep.startswith("dvc-s3") for dep in dependencies(repo))


@pytest.mark.parametrize("path", ["/srv/dvc-storage/acme", "~/dvc-storage/acme"])
def test_local_remote(bake, path):
    """remote=local points DVC at the answered directory and needs no S3 plugin."""
    repo = bake(remote="local", local_remote_path=path)

    assert remote_section(repo) == {"url": path}
    assert not any(dep.startswith("dvc-s3") for dep in dependencies(repo))


@pytest.mark.parametrize("license_answer, card_license", [
    ("Apache-2.0", "apache-2.0"),
    ("MIT", "mit"),
    ("BSD-3-Clause", "bsd-3-clause"),
    ("CC-BY-4.0", "cc-by-4.0"),
    ("Proprietary", "other"),
])
def test_license_default_is_a_hub_identifier(bake, license_answer, card_license):
    """Cards get the license as a Hugging Face identifier; Proprietary has none, so `other`."""
    repo = bake(license=license_answer, contact_email="ml@acme.example")

    assert read_yaml(repo / "registry.yaml")["defaults"] == {
        "license": card_license, "owner": "ml@acme.example"}


def test_first_commit_is_on_main_whatever_gits_default(bake, tmp_path, monkeypatch):
    """The registry's branch is main even where git would name a new branch otherwise."""
    gitconfig = tmp_path / "trunk.gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = trunk\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))

    assert_one_clean_commit_on_main(bake())
