"""The site shows how each version was made: a lineage graph per version, parameters per model.

The registry's versions are registered with `--from` a training repository with a real DVC
pipeline (a `dvc import` from a second repository, params.yaml, `dvc stage add`, `dvc repro`),
trained twice with different parameters; a third model comes from a dvc.lock whose stage name
and dependency path are markup, and a fourth has no lineage. Headless Chromium reads the pages.
"""

from __future__ import annotations

import hashlib
import shutil

import pytest
import yaml

from support import baked_world, data_source, git, registry, train_run, training_repo
from test_lineage import PARAMS, TRAIN
from test_site import HOSTILE_IMG, HOSTILE_SCRIPT, browser  # noqa: F401  (a fixture)

pytestmark = pytest.mark.xdist_group("site-lineage")

NODES = """[...document.querySelectorAll('svg.lineage g.node')].map(g => [g.dataset.kind,
    g.querySelector('text').getAttribute('data-label')])"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("site-lineage")
    source = data_source(root / "datasets")
    train = training_repo(root / "train", TRAIN, PARAMS, raw_from=source)

    baked = baked_world(root / "registry")
    repo = baked.repo
    locks = {}
    for version, lr in (("v0.1.0", 0.05), ("v0.2.0", 0.1)):
        locks[version] = train_run(train, lr)
        model = root / f"churn-{version}.pkl"
        shutil.copy(train / "model.pkl", model)
        registry(repo, "register", "churn", str(model), "--version", version,
                 "--from", str(train))

    hostile = root / "hostile"  # a dvc.lock as DVC writes it, with markup for names
    hostile.mkdir()
    git(hostile, "init", "--quiet", "-b", "main")
    evil_model = root / "evil.pkl"
    evil_model.write_text("a model from a hostile pipeline")
    md5 = hashlib.md5(evil_model.read_bytes()).hexdigest()
    (hostile / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        HOSTILE_SCRIPT: {"cmd": HOSTILE_IMG,
                         "deps": [{"path": HOSTILE_IMG, "md5": "0" * 32}],
                         "outs": [{"path": "evil.pkl", "md5": md5}]}}}))
    git(hostile, "add", "-A")
    git(hostile, "commit", "--quiet", "-m", "hostile")
    registry(repo, "register", "evil", str(evil_model), "--from", str(hostile))

    plain = root / "plain.pkl"
    plain.write_text("no lineage")
    registry(repo, "register", "plain", str(plain))

    out = root / "public"
    registry(repo, "site", "-o", str(out))
    return {"out": out, "locks": locks, "source": source}


def url(world, rel: str) -> str:
    return (world["out"] / rel).as_uri()


def test_version_page_draws_a_node_per_dep_stage_and_the_model(world, browser):
    lock = world["locks"]["v0.2.0"]
    tab = browser.open(url(world, "models/churn/v0.2.0.html"))
    nodes = tab.js(NODES)
    expected = ([["producer", "train"], ["stage", "prepare"], ["model", "churn v0.2.0"]]
                + [["import" if d["path"] == "data/raw.csv" else "data", d["path"]]
                   for d in lock["train"]["deps"] + lock["prepare"]["deps"]])
    assert sorted(nodes) == sorted(expected)
    edges = tab.js("document.querySelectorAll('svg.lineage path.edge').length")
    # each dependency into its stage, train into the model, prepare into what train read of it
    assert edges == len(lock["train"]["deps"]) + len(lock["prepare"]["deps"]) + 2
    box = tab.js("""(() => { const r = document.getElementById('lineage-graph')
        .getBoundingClientRect(); return [r.width, r.height]; })()""")
    assert box[0] > 600 and box[1] > 80  # drawn, with its columns side by side
    left = tab.js("""Object.fromEntries([...document.querySelectorAll('svg.lineage g.node')]
        .map(g => [g.querySelector('text').getAttribute('data-label'),
                   g.querySelector('rect').getBoundingClientRect().left]))""")
    assert left["data/raw.csv"] < left["prepare"] < left["data/prepared"] < left["train"]
    assert left["train"] < left["churn v0.2.0"]  # data on the left, the model on the right
    raw = next(d for d in lock["prepare"]["deps"] if d["path"] == "data/raw.csv")
    assert tab.js("document.querySelector('svg.lineage .import title').textContent") == (
        f"data/raw.csv\nmd5 {raw['md5']}\nimported from "
        f"{world['source']} at {git(world['source'], 'rev-parse', 'HEAD')}")
    assert tab.js("window.__violations") == [] and tab.errors == []
    tab.close()


def test_hostile_stage_name_and_dep_path_stay_text(world, browser):
    tab = browser.open(url(world, "models/evil/v0.0.1.html"), bypass_csp=True)
    assert sorted(tab.js(NODES)) == sorted([["producer", HOSTILE_SCRIPT],
                                            ["data", HOSTILE_IMG], ["model", "evil v0.0.1"]])
    assert "PWNED" not in tab.js("document.title")
    assert tab.js("document.documentElement.hasAttribute('data-pwned')") is False
    assert tab.js("document.images.length + document.scripts.length + document"
                  ".querySelectorAll('[onerror], svg a, foreignObject').length") == 0
    assert tab.errors == []
    tab.close()
    tab = browser.open(url(world, "models/evil/v0.0.1.html"))
    assert tab.js("window.__violations") == [] and tab.errors == []
    tab.close()


def test_a_version_without_lineage_says_so(world, browser):
    tab = browser.open(url(world, "models/plain/v0.0.1.html"))
    assert tab.js("document.querySelectorAll('svg.lineage').length") == 0
    assert "No training lineage recorded" in tab.js(
        "document.getElementById('lineage').innerText")
    tab.close()
    tab = browser.open(url(world, "models/plain/index.html"))
    assert "No version records its parameters" in tab.js(
        "document.getElementById('parameters').innerText")
    tab.close()


def test_model_page_shows_parameters_across_versions(world, browser):
    tab = browser.open(url(world, "models/churn/index.html"))
    table = tab.js("""[...document.querySelectorAll('#params tr')].map(r =>
        [...r.cells].map(c => c.innerText.trim()))""")
    assert table[0] == ["parameter", "v0.2.0", "v0.1.0"]
    assert table[1:] == [["train.epochs", "3", "3"], ["train.layers", "8, 4", "8, 4"],
                         ["train.lr", "0.1", "0.05"]]
    changed = tab.js("[...document.querySelectorAll('#params td.changed')]"
                     ".map(c => c.innerText)")
    assert changed == ["0.1"]
    assert tab.js("window.__violations") == [] and tab.errors == []
    tab.close()
