"""`registry import mlflow`: an MLflow model registry brought across, version by version.

A real MLflow tracking server (mlflow_server.py) holds two registered models whose versions
come from real runs of a small scikit-learn model (parameters, a metric, the run's user, a
source commit), with aliases, the legacy stages Staging and Production, an archived version,
a name with a space, SemVer version tags, and a third model whose name becomes the same as the
spaced one's. Each imported version's bytes are compared with MLflow's own download of its
files, fetched back from origin and the DVC remote; its card with what MLflow records; its tag
with MLflow's date and user; `gto show` with `registry list`. Then: re-runs, a dry run, what a
later change in MLflow brings, a failure part-way and its re-run, and bad input.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml

from mlflow_server import FAST, free_port, mlflow_server  # noqa: F401  (the server fixture)
from support import baked_world, dvc, git, helper_env, registry
from support import on_terminal as terminal

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

COMMIT = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
HISTORY = "MLflow keeps no history of its aliases and stages"


def legacy_stage(client, model: str, number: int, stage: str) -> None:
    """Move a version to a legacy stage, which MLflow deprecates but still keeps (and many
    registries still use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(model, str(number), stage)


def train(experiment: str, model: str, user: str, c: float) -> int:
    """One run: parameters, a metric and a logistic regression logged, registered as the next
    version of `model`; returns its version number."""
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    with mlflow.start_run(experiment_id=experiment,
                          tags={"mlflow.user": user, "mlflow.source.git.commit": COMMIT}):
        mlflow.log_params({"C": c, "solver": "lbfgs"})
        mlflow.log_metric("auc", round(0.8 + c / 100, 4))
        fitted = LogisticRegression(C=c).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
        info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name=model,
                                        pip_requirements=["scikit-learn"])
    return int(info.registered_model_version)


@pytest.fixture(scope="module")
def world(mlflow_server, tmp_path_factory):
    uri = mlflow_server["uri"]
    mlflow.set_tracking_uri(uri)  # the registry's too, MLflow's default
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("training")
    client.create_registered_model("churn", tags={"team": "retention"},
                                   description="Who leaves next month")
    client.create_registered_model("Fraud Detector", tags={"team": "risk"},
                                   description="Flags card payments for review")
    client.create_registered_model("Fraud.Detector")  # here, its name would be the same
    for user, c in (("alice", 0.5), ("bob", 1.0), ("carol@example.com", 2.0)):
        train(experiment, "churn", user, c)
    for user, c in (("dave", 0.1), ("erin", 0.2)):
        train(experiment, "Fraud Detector", user, c)
    legacy_stage(client, "churn", 1, "Archived")
    client.set_model_version_tag("churn", "2", "semver", "2.1.0")
    client.set_model_version_tag("churn", "3", "semver", "v2.2.0")
    client.update_model_version("churn", "3", description="retrained on March data")
    client.set_registered_model_alias("churn", "champion", "2")
    client.set_registered_model_alias("churn", "challenger", "3")
    client.set_model_version_tag("Fraud Detector", "2", "reviewed", "yes")
    legacy_stage(client, "Fraud Detector", 1, "Staging")
    legacy_stage(client, "Fraud Detector", 2, "Production")
    root = tmp_path_factory.mktemp("mlflow-import")
    return {"uri": uri, "root": root, "client": client, "experiment": experiment,
            "server": mlflow_server, "baked": baked_world(root / "registry")}


def run_import(repo: Path, uri: str, *args: str, check: bool = True):
    return registry(repo, "import", "mlflow", "--uri", uri, *args, check=check, env=FAST)


def on_terminal(repo: Path, *args: str) -> tuple[int, str]:
    """`registry ARGS` run with a terminal as its output, as a person runs it: its exit
    status and what the terminal showed."""
    status, shown = terminal([sys.executable, "-m", "model_registry", *args], repo,
                             helper_env(repo, FAST))
    return status, shown.replace("\r\n", "\n")


def imported(proc) -> dict:
    return json.loads(proc.stdout)


def state(repo: Path) -> tuple[str, str]:
    """What a command that changes nothing leaves as it was: every ref, and the work tree."""
    return (git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
            git(repo, "status", "--porcelain", "--untracked-files=all"))


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def mlflow_files(world, name: str, number: int) -> dict[str, bytes]:
    """The version's files as MLflow itself downloads them."""
    where = world["client"].get_model_version_download_uri(name, str(number))
    folder = world["root"] / "mlflow-downloads" / f"{name}-{number}"
    return files(Path(mlflow.artifacts.download_artifacts(artifact_uri=where,
                                                          dst_path=str(folder))))


def front(repo: Path, tag: str) -> dict:
    """The card's front matter as committed with the version the tag `NAME@VERSION` names."""
    name = tag.split("@")[0]
    return yaml.safe_load(git(repo, "show", f"{tag}:models/{name}/card.md").split("---\n")[1])


def tag_fields(repo: Path, tag: str) -> tuple[str, str, int]:
    name, email, when = git(repo, "for-each-ref", f"refs/tags/{tag}",
                            "--format=%(taggername)|%(taggeremail:trim)|%(taggerdate:unix)"
                            ).split("|")
    return name, email, int(when)


def listed(repo: Path) -> dict:
    return {m["name"]: (m["latest"], m["stages"])
            for m in json.loads(registry(repo, "list", "--json").stdout)}


def gto_show(repo: Path) -> dict:
    """`gto show`'s table: each model's latest version and the stages held."""
    import gto.api
    return {name: (row["version"], {stage: held for stage, held in row["stage"].items() if held})
            for name, row in gto.api.show(str(repo)).items()}


def test_import_brings_each_version_with_its_bytes_card_date_user_and_stages(world):
    repo, client, uri = world["baked"].repo, world["client"], world["uri"]
    done = imported(run_import(repo, uri, "--model", "churn", "--model", "Fraud Detector",
                               "--version-tag", "semver", "--push", "--json"))
    mapped = {m["mlflow_name"]: m["name"] for m in done["models"]}
    assert mapped == {"churn": "churn", "Fraud Detector": "fraud-detector"}
    assert done["uri"] == uri and done["pushed"] is True and done["dry_run"] is False
    assert done["stages_added"] == ["challenger", "champion", "production"]
    events = {m["name"]: [(s["event"], s["version"], s.get("stage"), s["mlflow"])
                          for s in m["steps"]] for m in done["models"]}
    assert events == {
        "churn": [("register", "v1.0.0", None, "version 1"),
                  ("register", "v2.1.0", None, "version 2"),
                  ("register", "v2.2.0", None, "version 3"),
                  ("deregister", "v1.0.0", None, "stage Archived"),
                  ("assign", "v2.2.0", "challenger", "alias challenger"),
                  ("assign", "v2.1.0", "champion", "alias champion")],
        "fraud-detector": [("register", "v1.0.0", None, "version 1"),
                           ("register", "v2.0.0", None, "version 2"),
                           ("assign", "v1.0.0", "staging", "stage Staging"),
                           ("assign", "v2.0.0", "production", "stage Production")]}
    notes = {m["name"]: m["notes"] for m in done["models"]}
    assert notes["churn"] == ["version 1 has no tag semver: imported as v1.0.0"]

    expected = {"churn": {1: "v1.0.0", 2: "v2.1.0", 3: "v2.2.0"},
                "Fraud Detector": {1: "v1.0.0", 2: "v2.0.0"}}
    out = world["root"] / "fetched"
    for model, versions in expected.items():
        name = mapped[model]
        (out / name).mkdir(parents=True)
        previous = 0
        for number, version in versions.items():
            mv = client.get_model_version(model, str(number))
            run = client.get_run(mv.run_id)
            # the bytes, fetched back through origin and the DVC remote, are MLflow's
            if (model, number) == ("churn", 1):  # deregistered: DVC still fetches it by tag
                dvc(world["root"], "get", str(world["baked"].origin), f"models/{name}/model",
                    "--rev", f"{name}@{version}", "-o", str(out / name / version))
            else:
                registry(repo, "get", f"{name}@{version}", "--repo", str(world["baked"].origin),
                         "-o", str(out / name / version))
            assert files(out / name / version) == mlflow_files(world, model, number)

            card = front(repo, f"{name}@{version}")
            created = mv.creation_timestamp // 1000
            source = {"source": "mlflow", "uri": uri, "model": model, "version": number,
                      "run_id": mv.run_id, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                     time.gmtime(created)),
                      "user": run.info.user_id,
                      "model_description": client.get_registered_model(model).description,
                      "model_tags": client.get_registered_model(model).tags}
            if mv.tags:
                source["tags"] = mv.tags
            if mv.description:
                source["description"] = mv.description
            if "semver" in mv.tags:
                source["version_tag"] = "semver"
            assert card["registry"]["source"] == source
            assert card["registry"]["version"] == version
            lineage = card["registry"]["lineage"]
            assert lineage["run"]["run_id"] == mv.run_id
            assert lineage["run"]["source_commit"] == COMMIT
            assert lineage["params"] == run.data.params
            metrics = card["model-index"][0]["results"][0]["metrics"]
            assert metrics == [{"type": "auc", "name": "auc", "value": run.data.metrics["auc"]}]

            # dated when MLflow made it (a second after the tag before, on a tie), by its user
            user = run.info.user_id
            when = max(created, previous + 1)
            assert tag_fields(repo, f"{name}@{version}") == (user, user, when)
            previous = when

    assert listed(repo) == {
        "churn": ("v2.2.0", {"challenger": "v2.2.0", "champion": "v2.1.0"}),
        "fraud-detector": ("v2.0.0", {"production": "v2.0.0", "staging": "v1.0.0"})}
    assert gto_show(repo) == listed(repo)
    champion = git(repo, "tag", "--list", "--format=%(contents)", "churn#champion#*")
    assert "has it as alias champion, as it stood when imported on" in champion
    assert HISTORY in champion
    for rel in ("registry.yaml", ".gto"):
        stages = yaml.safe_load((repo / rel).read_text())["stages"]
        assert stages == ["dev", "staging", "prod", "challenger", "champion", "production"]
    assert registry(repo, "check").returncode == 0
    assert git(repo, "status", "--porcelain") == ""
    # origin has everything, branch and tags
    local = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags",
                "refs/heads/main").splitlines()
    remote = git(repo, "ls-remote", "origin", "refs/tags/*", "refs/heads/main").splitlines()
    assert {" ".join(line.split()[::-1]) for line in remote
            if not line.endswith("^{}")} == set(local)


def test_a_rerun_changes_nothing(world):
    repo = world["baked"].repo
    before = state(repo)
    done = imported(run_import(repo, world["uri"], "--model", "churn", "--model",
                               "Fraud Detector", "--version-tag", "semver", "--push", "--json"))
    assert [(m["name"], m["present"], m["steps"]) for m in done["models"]] == [
        ("churn", 3, []), ("fraud-detector", 2, [])]
    assert done["pushed"] is False and state(repo) == before


def test_what_changed_in_mlflow_comes_across_and_a_dry_run_writes_nothing(world):
    repo, client, uri = world["baked"].repo, world["client"], world["uri"]
    number = train(world["experiment"], "churn", "frank", 4.0)
    client.set_registered_model_alias("churn", "champion", str(number))
    client.delete_registered_model_alias("churn", "challenger")
    legacy_stage(client, "Fraud Detector", 1, "Archived")
    args = ("--model", "churn", "--model", "Fraud Detector", "--version-tag", "semver")

    before = state(repo)
    plan = run_import(repo, uri, *args, "--dry-run")
    assert state(repo) == before
    text = plan.stdout
    assert "(dry run: nothing was written)" in text
    assert "churn <- 'churn': 1 new version(s), 3 here already" in text
    table = text.split("\nevent ", 1)[1].splitlines()[1:]
    steps = [line.split()[:4] for line in table if not line.startswith("note")]
    assert steps == [["register", "churn", "v4.0.0", "-"],
                     ["assign", "churn", "v4.0.0", "champion"],
                     ["unassign", "churn", "v2.2.0", "challenger"],
                     ["deregister", "fraud-detector", "v1.0.0", "-"]]

    done = imported(run_import(repo, uri, *args, "--push", "--json"))
    tags = [s["tag"] for m in done["models"] for s in m["steps"]]
    assert tags == ["churn@v4.0.0", "churn#champion#3", "churn#challenger!#4",
                    "fraud-detector@v1.0.0!"]
    assert listed(repo) == {"churn": ("v4.0.0", {"champion": "v4.0.0"}),
                            "fraud-detector": ("v2.0.0", {"production": "v2.0.0"})}
    assert gto_show(repo) == listed(repo)
    out = world["root"] / "fetched-v4"
    registry(repo, "get", "churn@v4.0.0", "--repo", str(world["baked"].origin), "-o", str(out))
    assert files(out) == mlflow_files(world, "churn", number)
    assert tag_fields(repo, "churn@v4.0.0")[:2] == ("frank", "frank")

    again = state(repo)
    rerun = imported(run_import(repo, uri, *args, "--push", "--json"))
    assert [m["steps"] for m in rerun["models"]] == [[], []] and state(repo) == again


def test_a_failure_part_way_leaves_whole_versions_and_a_rerun_finishes(world, tmp_path):
    client, uri = world["client"], world["uri"]
    repo = baked_world(tmp_path / "halfway").repo
    # the server's artifact store loses version 3's files
    where = client.get_model_version_download_uri("churn", "3")  # mlflow-artifacts:/.../artifacts
    stored = (world["server"]["root"] / "artifacts" / where.split(":/", 1)[1]).parent
    hidden = stored.with_name("hidden")
    stored.rename(hidden)
    try:
        failed = run_import(repo, uri, "--model", "churn", "--version-tag", "semver",
                            check=False)
    finally:
        hidden.rename(stored)
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1
    assert failed.stderr.startswith("error: MLflow model 'churn' version 3 ")
    assert failed.stderr.endswith(": check the server's artifact store, then re-run to import "
                                  "the rest\n")
    # what came before it is whole: committed, tagged, valid; nothing of version 3
    assert git(repo, "tag", "--list").splitlines() == ["churn@v1.0.0", "churn@v2.1.0"]
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert registry(repo, "check").returncode == 0
    assert front(repo, "churn@v2.1.0")["registry"]["source"]["version"] == 2

    # the re-run, on a terminal: a line as each version goes
    status, shown = on_terminal(repo, "import", "mlflow", "--uri", uri, "--model", "churn",
                                "--version-tag", "semver")
    assert status == 0, shown
    numbers = sorted(int(v.version) for v in client.search_model_versions("name = 'churn'"))
    rest = numbers[2:]
    assert "churn: 1/%d MLflow 'churn' version 3 as v2.2.0\n" % len(rest) in shown
    assert f"churn <- 'churn': {len(rest)} new version(s), 2 here already" in shown
    registered = [t for t in git(repo, "tag", "--list").splitlines() if "@" in t
                  and not t.endswith("!")]
    assert len(registered) == len(numbers)
    subjects = git(repo, "log", "--format=%s").splitlines()
    assert len([s for s in subjects if s.startswith("Import churn")]) == len(numbers)
    assert gto_show(repo) == listed(repo)


def test_a_push_that_fails_keeps_the_import_and_a_rerun_pushes_it(world, tmp_path):
    uri, root = world["uri"], tmp_path / "pushing"
    baked = baked_world(root)
    repo, storage = baked.repo, root / "dvc-storage"
    args = ("--model", "Fraud Detector", "--push")

    def on_origin() -> str:
        return git(repo, "ls-remote", "--tags", "origin")

    storage.write_text("not a folder: the DVC remote is down")
    failed = run_import(repo, uri, *args, check=False)
    assert failed.returncode == 1 and len(failed.stderr.strip().splitlines()) == 1
    assert "could not upload to DVC remote storage" in failed.stderr
    here = git(repo, "tag", "--list").splitlines()
    assert "fraud-detector@v2.0.0" in here and on_origin() == ""

    storage.unlink()
    other = baked.clone("someone-else")  # origin's branch moves on meanwhile
    git(other, "commit", "--quiet", "--allow-empty", "-m", "another change")
    git(other, "push", "--quiet", "origin", "main")
    refused = run_import(repo, uri, *args, check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: git push to origin failed (refs/heads/main "
                                     "[rejected]")
    assert "re-run with --push to finish" in refused.stderr
    assert git(repo, "tag", "--list").splitlines() == here and on_origin() == ""

    git(repo, "pull", "--quiet", "--no-rebase", "origin", "main")
    done = imported(run_import(repo, uri, *args, "--json"))
    assert done["pushed"] is True and [m["steps"] for m in done["models"]] == [[]]
    pushed = {line.split("refs/tags/")[1] for line in on_origin().splitlines()
              if not line.endswith("^{}")}
    assert pushed == set(here)
    out = tmp_path / "fetched"
    registry(repo, "get", "fraud-detector@v2.0.0", "--repo", str(baked.origin), "-o", str(out))
    assert files(out) == mlflow_files(world, "Fraud Detector", 2)


def test_bad_input_is_refused_and_changes_nothing(world, tmp_path):
    uri = world["uri"]
    repo = baked_world(tmp_path / "refusing").repo
    registry(repo, "register", "churn", str(_file(tmp_path, "hand-made.pkl")), "--version",
             "v0.1.0")
    before = state(repo)

    def refused(*args: str, uri: str = uri, status: int = 2) -> str:
        started = time.monotonic()
        proc = run_import(repo, uri, *args, check=False)
        assert proc.returncode == status, proc.stderr
        assert time.monotonic() - started < 60
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
        assert state(repo) == before
        return proc.stderr

    assert "MLflow at %s has no registered model 'nope'" % uri in refused("--model", "nope")
    assert ("MLflow models 'Fraud Detector' and 'Fraud.Detector' would both be fraud-detector "
            "here: name one of them with --rename Fraud.Detector=NEW") in refused()
    assert ("churn is already in this registry and did not come from MLflow model 'churn': "
            "import it under another name with --rename churn=NEW"
            ) in refused("--model", "churn")
    assert "--rename names 'nope', which is not among" in refused("--model", "churn",
                                                                 "--rename", "nope=x")
    assert "invalid model name 'a b'" in refused("--model", "churn", "--rename", "churn=a b")
    closed = f"http://ci:s3cret@127.0.0.1:{free_port()}"
    message = refused("--model", "churn", uri=closed, status=1)
    assert "did not answer: check that the tracking server is up and --uri is right" in message
    assert "s3cret" not in message

    # the clash resolved by a name of one's choosing, in a dry run
    plan = run_import(repo, uri, "--rename", "Fraud.Detector=fraud-detector-2", "--rename",
                      "churn=churn-mlflow", "--dry-run", "--json")
    assert {m["mlflow_name"]: m["name"] for m in imported(plan)["models"]} == {
        "churn": "churn-mlflow", "Fraud Detector": "fraud-detector",
        "Fraud.Detector": "fraud-detector-2"}
    assert state(repo) == before


def _file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"a model registered by hand, not from MLflow")
    return path
