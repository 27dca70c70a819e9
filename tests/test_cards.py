"""Model cards: the schema and its profiles, hostile YAML, the review diff and `registry doc`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from support import TEMPLATE, bake_template, git, registry

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.project_slug}}" / "src"))
from model_registry import cards  # noqa: E402  (the helper as the template ships it)

SCHEMA = cards.schema()
HIGH_RISK = SCHEMA["$defs"]["profiles"]["eu-ai-act-high-risk"]
EU_REQUIRED = HIGH_RISK["properties"]["eu_ai_act"]["required"]


def complete_front() -> dict:
    """A card front matter that satisfies eu-ai-act-high-risk."""
    eu = {name: f"{name.replace('_', ' ')}: documented in docs/{name}.md" for name in EU_REQUIRED}
    eu["provider"] = {"name": "Acme Bank", "contact": "ai-compliance@acme.example"}
    return {
        "license": "apache-2.0", "owner": "risk-models@acme.example",
        "datasets": ["loans-2019-2024"],
        "model-index": cards.model_index({}, "churn", {"auc": 0.91}),
        "registry": {"name": "churn", "version": "v1.0.0", "previous_version": None,
                     "artifact": {"path": "models/churn/model.pkl", "md5": "0" * 32,
                                  "sha256": "0" * 64, "size": 10}},
        "eu_ai_act": eu,
    }


def test_complete_high_risk_card_passes():
    assert cards.validate(complete_front(), "eu-ai-act-high-risk", "card.md") == []


@pytest.mark.parametrize("field", EU_REQUIRED + ["datasets", "model-index", "license", "owner"])
@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_each_required_field_names_itself_and_its_provision(field, how):
    front = complete_front()
    holder = front if field in front and field not in EU_REQUIRED else front["eu_ai_act"]
    if how == "removed":
        del holder[field]
    else:
        holder[field] = None
    problems = cards.validate(front, "eu-ai-act-high-risk", "card.md")
    path = field if holder is front else f"eu_ai_act.{field}"
    mine = [p for p in problems if p.field == path or p.field.startswith(path + ".")]
    assert mine, f"no problem reported for {path}: {problems}"
    spec = SCHEMA["properties"].get(field) or SCHEMA["properties"]["eu_ai_act"]["properties"][field]
    assert mine[0].provision == spec["x-provision"]
    assert path in str(mine[0]) and spec["x-provision"] in str(mine[0])


def test_standard_profile_needs_nothing_the_helper_cannot_fill():
    front = complete_front()
    del front["eu_ai_act"], front["datasets"], front["model-index"]
    assert cards.validate(front, "standard", "card.md") == []


# ------------------------------------------------------------------ through the CLI


@pytest.fixture
def high_risk(tmp_path):
    return bake_template(tmp_path, card_profile="eu-ai-act-high-risk")


def state(repo: Path) -> tuple[str, str, str]:
    return (git(repo, "rev-parse", "HEAD"), git(repo, "tag"), git(repo, "status", "--porcelain"))


def test_high_risk_register_refuses_incomplete_card_and_writes_skeleton(high_risk, tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    head = git(high_risk, "rev-parse", "HEAD")
    proc = registry(high_risk, "register", "churn", str(model), check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: models/churn/card.md is not complete")
    assert "eu_ai_act.intended_purpose (Annex IV 1(a); Art. 13(3)(b)(i))" in proc.stderr
    assert git(high_risk, "rev-parse", "HEAD") == head and git(high_risk, "tag") == ""
    # the copies made while the artifact was hashed, before the card was checked, are gone
    assert not (high_risk / "models/churn/model.pkl").exists()
    assert not list(high_risk.glob(".dvc/tmp/registry-*"))
    assert not list(high_risk.glob(".dvc/cache/files/md5/*/*"))
    skeleton = (high_risk / "models/churn/card.md").read_text()
    assert "# yaml-language-server: $schema=../../src/model_registry/card.schema.json" in skeleton
    assert "intended_purpose: null  # what the system is for" in skeleton


def fill_card(repo: Path, name: str = "churn") -> None:
    """Fill every field of the skeleton as a person would, keeping its comments."""
    path = repo / "models" / name / "card.md"
    text = path.read_text()
    for field in EU_REQUIRED:
        if field != "provider":
            text = text.replace(f"  {field}: null", f"  {field}: see docs/{field}.md")
    text = text.replace("{name: null, contact: null}", "{name: Acme, contact: ai@acme.example}")
    text = text.replace("datasets: []", "datasets: [loans-2024]")
    path.write_text(text)


def test_high_risk_register_accepts_the_filled_card(high_risk, tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"auc": 0.9}))
    registry(high_risk, "register", "churn", str(model), check=False)
    fill_card(high_risk)
    registry(high_risk, "register", "churn", str(model), "--metrics", str(metrics))
    assert git(high_risk, "tag") == "churn@v0.0.1"
    text = (high_risk / "models/churn/card.md").read_text()
    assert "# what the system is for" not in text or "see docs/" in text
    assert "# training data sets (Annex IV 2(d))" in text  # the person's comments survive
    assert registry(high_risk, "check").stdout.startswith("1 card(s) checked, no problems")


def test_model_card_library_parses_every_card_the_helper_writes(bake, tmp_path):
    from huggingface_hub import ModelCard

    repo = bake()
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.93, "log_loss": 0.2}))
    registry(repo, "register", "churn", str(model), "--metrics", str(metrics))
    card = ModelCard.load(str(repo / "models/churn/card.md"))
    data = card.data.to_dict()
    assert data["registry"]["version"] == "v0.0.1"
    assert data["registry"]["artifact"]["sha256"] == __import__("hashlib").sha256(
        b"weights").hexdigest()
    assert card.data.eval_results[0].metric_value == 0.93


HOSTILE = {
    "python tag": "---\nlicense: !!python/object/apply:os.system ['touch PWNED']\n---\n",
    "billion laughs": "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c]\n"
                      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n---\n",
    "10 MB card": "---\nlicense: mit\nnotes: '" + "x" * (10 * 1024 * 1024) + "'\n---\n",
    "invalid UTF-8": b"---\nlicense: \xff\xfe mit\n---\n",
    "list front matter": "---\n- license\n- mit\n---\n",
    "no front matter": "# just a heading\n",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_card_is_refused_and_nothing_runs_or_changes(bake, tmp_path, kind):
    repo = bake()
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    card = repo / "models/churn/card.md"
    card.parent.mkdir(parents=True)
    content = HOSTILE[kind]
    card.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a hostile card")
    before = state(repo)
    for args in (["register", "churn", str(model)], ["check"]):
        started = time.monotonic()
        proc = registry(repo, *args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        assert time.monotonic() - started < 20
    assert state(repo) == before
    assert not (repo / "PWNED").exists()


# ------------------------------------------------------------------ diff and doc


@pytest.fixture(scope="module")
def three_versions(tmp_path_factory):
    """churn v1.0.0 -> v1.1.0 -> v1.2.0, with metrics and card edits between them."""
    root = tmp_path_factory.mktemp("three")
    repo = bake_template(root)
    for i, (auc, loss, purpose) in enumerate([(0.80, 0.50, "Flag churn risk"),
                                              (0.85, 0.40, "Flag churn risk for retention"),
                                              (0.83, 0.45, "Flag churn risk <script>x</script>")]):
        model, metrics = root / f"m{i}.pkl", root / f"m{i}.json"
        model.write_bytes(bytes([i]) * (1000 * (i + 1)))
        metrics.write_text(json.dumps({"auc": auc, "log_loss": loss}))
        card = repo / "models/churn/card.md"
        if card.exists():
            text = card.read_text()
            old = text.split("intended_purpose: ", 1)[1].split("\n", 1)[0]
            card.write_text(text.replace(f"intended_purpose: {old}",
                                         f"intended_purpose: {json.dumps(purpose)}")
                            .replace("## Limitations and risks", f"## Limitations and risks\n"
                                     f"Revision {i}."))
        registry(repo, "register", "churn", str(model), "--version", f"v1.{i}.0",
                 "--metrics", str(metrics))
    registry(repo, "promote", "churn", "v1.1.0", "staging")
    registry(repo, "promote", "churn", "v1.1.0", "prod")
    return repo


def test_diff_between_versions_shows_hash_metrics_fields_and_text(three_versions):
    out = registry(three_versions, "diff", "churn@v1.0.0", "churn@v1.2.0").stdout
    assert "## churn: v1.0.0 → v1.2.0" in out
    assert "| artifact size | 1000 B | 2.9 KiB | changed |" in out
    assert "| auc | 0.8 | 0.83 | +0.03 ▲ better |" in out
    assert "| log_loss | 0.5 | 0.45 | -0.05 ▼ better |" in out
    assert "`eu_ai_act.intended_purpose`: null → Flag churn risk <script>x</script>" in out
    assert "+Revision 2." in out


def test_diff_base_covers_the_uncommitted_change(three_versions):
    card = three_versions / "models/churn/card.md"
    original = card.read_text()
    try:
        card.write_text(original.replace("tags: []", "tags: [retention]"))
        out = registry(three_versions, "diff", "--base", "HEAD").stdout
        assert "## churn: HEAD → this change" in out
        assert "`tags`: [] → ['retention']" in out
        assert "No change to the card text." in out
    finally:
        card.write_text(original)


def test_doc_is_organised_by_annex_iv_with_git_facts(three_versions):
    out = registry(three_versions, "doc", "churn@v1.1.0").stdout
    for point in range(1, 10):
        assert f"(Annex IV point {point})" in out
    assert "# Technical documentation: churn v1.1.0" in out
    assert "tag churn@v1.1.0 on commit " + git(three_versions, "rev-parse", "churn@v1.1.0^{}") in out
    assert "Tag signature: not signed." in out
    assert "| previous version | v1.0.0 |" in out
    assert "| prod | assigned |" in out and "| staging | assigned |" in out
    assert "Changes since v1.0.0:" in out and "| auc | 0.8 | 0.85 | +0.05 ▲ better |" in out
    missing = out.split("## Still missing", 1)[1]
    assert "eu_ai_act.data (Annex IV 2(d))" in missing


def test_doc_html_escapes_card_content(three_versions, tmp_path):
    target = tmp_path / "doc.html"
    registry(three_versions, "doc", "churn@v1.2.0", "--format", "html", "-o", str(target))
    page = target.read_text()
    assert page.startswith("<!doctype html>")
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_check_reports_a_card_out_of_step_with_its_artifact(three_versions):
    card = three_versions / "models/churn/card.md"
    original = card.read_text()
    try:
        card.write_text(original.replace("size: 3000", "size: 3001"))
        proc = registry(three_versions, "check", "--json", check=False)
        assert proc.returncode == 2
        problems = json.loads(proc.stdout)["problems"]
        fields = {p["field"]: p["message"] for p in problems}
        assert set(fields) == {"registry.artifact.md5", "registry.version"}
        assert "register the artifact as a new version" in fields["registry.artifact.md5"]
        assert "already registered (tag churn@v1.2.0)" in fields["registry.version"]
    finally:
        card.write_text(original)
