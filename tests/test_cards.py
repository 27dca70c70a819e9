"""Model cards: the schema and its profiles, hostile YAML, the review diff and `registry doc`."""

from __future__ import annotations

import json
import re
import resource
import sys
from pathlib import Path

import pytest

from support import TEMPLATE, bake_template, git, registry

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.project_slug}}" / "src"))
from model_registry import cards  # noqa: E402  (the helper as the template ships it)

SCHEMA = cards.schema()
HIGH_RISK = SCHEMA["$defs"]["profiles"]["eu-ai-act-high-risk"]
EU_REQUIRED = HIGH_RISK["properties"]["eu_ai_act"]["required"]


# The fields a complete high-risk card holds as mappings: an Annex III system (point 5(b), so
# registered in the EU database under Art. 49(1)), assessed by internal control.
CLASSIFIED = {
    "classification": {"basis": "art-6-2", "annex_iii_point": "5(b)"},
    "transparency_obligations": {"applies": False},
    "conformity_assessment": {"procedure": "internal-control",
                              "reference": "docs/conformity-assessment.md"},
    "eu_database_registration": {"reference": "EU-DB-0001", "status": "in service",
                                 "member_states": ["DE", "FR"]},
}


def cpu_of_children() -> float:
    """CPU seconds used by this process's finished children: what a parser's blow-up costs,
    unaffected by other processes' load as wall time is."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def complete_front() -> dict:
    """A card front matter that satisfies eu-ai-act-high-risk."""
    eu = {name: f"{name.replace('_', ' ')}: documented in docs/{name}.md" for name in EU_REQUIRED}
    eu["provider"] = {"name": "Acme Bank", "contact": "ai-compliance@acme.example"}
    eu.update(CLASSIFIED)
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
    for field, value in CLASSIFIED.items():
        text = text.replace(f"  {field}: null", f"  {field}: {json.dumps(value)}")
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
        before_cpu = cpu_of_children()
        proc = registry(repo, *args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        assert cpu_of_children() - before_cpu < 20  # no expansion, however the machine is loaded
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


# ------------------------------------------------------------------ AI Act provisions

EU_FIELDS = SCHEMA["properties"]["eu_ai_act"]["properties"]


def provision(path: str) -> str:
    node = SCHEMA
    for part in path.split("."):
        node = node["properties"][part]
    return node["x-provision"]


@pytest.mark.parametrize("path, expected", [
    ("owner", "Art. 17(1)(m)"),
    ("model-index", "Annex IV 2(g); Art. 13(3)(b)(ii); Art. 15(3)"),
    ("registry.name", "Annex VIII Section A point 4; Annex V point 1"),
    ("registry.lineage", "Annex IV 2(a)"),
    ("eu_ai_act.provider", "Annex IV 1(a); Art. 13(3)(a); Annex V point 2; "
                           "Annex VIII Section A point 1"),
    ("eu_ai_act.human_oversight", "Annex IV 3; Annex IV 2(e); Art. 14; Art. 13(3)(d)"),
    ("eu_ai_act.output_interpretation", "Annex IV 3; Art. 13(3)(b)(vii)"),
    ("eu_ai_act.explainability", "Annex IV 3; Art. 13(3)(b)(iv)"),
    ("eu_ai_act.predetermined_changes", "Annex IV 2(f); Art. 13(3)(c)"),
    ("eu_ai_act.hardware", "Annex IV 1(e); Art. 13(3)(e)"),
    ("eu_ai_act.expected_lifetime", "Art. 13(3)(e)"),
    ("eu_ai_act.maintenance", "Art. 13(3)(e)"),
    ("eu_ai_act.quality_management_system", "Art. 17(1); Art. 18(1)(b)"),
    ("eu_ai_act.post_market_monitoring", "Annex IV 9; Art. 72(1); Art. 72(2)"),
    ("eu_ai_act.post_market_monitoring_plan", "Annex IV 9; Art. 72(3)"),
    ("eu_ai_act.serious_incidents", "Art. 73(1)"),
    ("eu_ai_act.classification", "Art. 6"),
    ("eu_ai_act.classification.annex_i_legislation", "Art. 6(1)"),
    ("eu_ai_act.classification.annex_iii_point", "Art. 6(2)"),
    ("eu_ai_act.classification.art_6_3_conditions", "Art. 6(3); Annex VIII Section B point 6"),
    ("eu_ai_act.classification.assessment", "Art. 6(4)"),
    ("eu_ai_act.transparency_obligations", "Art. 50"),
    ("eu_ai_act.conformity_assessment", "Art. 43"),
    ("eu_ai_act.notified_body_certificate",
     "Annex VIII Section A point 8; Art. 18(1)(c); Art. 18(1)(d)"),
    ("eu_ai_act.eu_database_registration", "Art. 49(1); Art. 49(2); Annex VIII"),
    ("eu_ai_act.eu_database_registration.status", "Annex VIII Section A point 7"),
    ("eu_ai_act.eu_database_registration.member_states", "Annex VIII Section A point 10"),
])
def test_each_field_names_the_provision_it_serves(path, expected):
    assert provision(path) == expected


def test_the_hints_say_what_annex_iv_2b_and_2g_ask():
    assert "the main classification choices" in EU_FIELDS["design_specifications"]["description"]
    assert ("including with regard to pre-determined changes as referred to under point (f)"
            in EU_FIELDS["validation_and_testing"]["description"])


def test_risk_level_is_no_longer_a_field_but_a_card_with_it_still_validates():
    assert "risk_level" not in EU_FIELDS
    front = complete_front()
    front["eu_ai_act"]["risk_level"] = "minimal"
    assert cards.validate(front, "eu-ai-act-high-risk", "card.md") == []
    warning = cards.risk_level_warning(front, "models/churn/card.md")
    assert warning.startswith("models/churn/card.md: eu_ai_act.risk_level")
    assert cards.risk_level_warning(complete_front(), "models/churn/card.md") is None


@pytest.mark.parametrize("classification, needs", [
    ({"basis": "art-6-1"}, ["annex_i_legislation"]),
    ({"basis": "art-6-2"}, ["annex_iii_point"]),
    ({"basis": "art-6-3"}, ["annex_iii_point", "art_6_3_conditions", "assessment"]),
    ({"basis": "not-high-risk"}, []),
    ({"basis": "outside-scope"}, []),
    ({"basis": "art-6-3", "annex_iii_point": "4(a)", "art_6_3_conditions": ["a"],
      "assessment": "docs/art-6-4-assessment.md"}, []),
])
def test_the_classification_needs_the_references_its_basis_needs(classification, needs):
    front = complete_front()
    del front["eu_ai_act"]
    front["eu_ai_act"] = {"classification": classification}
    problems = cards.validate(front, "standard", "card.md")
    assert [p.field for p in problems] == [f"eu_ai_act.classification.{n}" for n in needs]
    for p in problems:
        assert p.message.startswith("missing")
        assert p.provision == provision(p.field)


def test_transparency_obligations_that_apply_name_paragraphs_and_measures():
    front = complete_front()
    front["eu_ai_act"]["transparency_obligations"] = {"applies": True}
    fields = [p.field for p in cards.validate(front, "standard", "card.md")]
    assert fields == ["eu_ai_act.transparency_obligations.paragraphs",
                      "eu_ai_act.transparency_obligations.measures"]
    front["eu_ai_act"]["transparency_obligations"] = {
        "applies": True, "paragraphs": ["50(1)"], "measures": "the chat says it is an AI system"}
    assert cards.validate(front, "standard", "card.md") == []


def test_high_risk_profile_requires_what_the_act_requires():
    for field in ("expected_lifetime", "maintenance", "quality_management_system",
                  "post_market_monitoring_plan", "classification", "conformity_assessment"):
        assert field in EU_REQUIRED
    for field in ("serious_incidents", "transparency_obligations", "predetermined_changes"):
        assert field not in EU_REQUIRED
        front = complete_front()
        front["eu_ai_act"].pop(field, None)
        assert cards.validate(front, "eu-ai-act-high-risk", "card.md") == []


@pytest.mark.parametrize("classification, registered", [
    ({"basis": "art-6-2", "annex_iii_point": "5(b)"}, True),   # Art. 49(1)
    ({"basis": "art-6-2", "annex_iii_point": "2(a)"}, False),  # Annex III point 2: national
    ({"basis": "art-6-3", "annex_iii_point": "4(a)", "art_6_3_conditions": ["d"],
      "assessment": "docs/art-6-4.md"}, True),                 # Art. 49(2)
    ({"basis": "art-6-1", "annex_i_legislation": "Regulation (EU) 2017/745"}, False),
])
def test_high_risk_profile_requires_the_eu_database_registration_where_art_49_does(
        classification, registered):
    front = complete_front()
    front["eu_ai_act"]["classification"] = classification
    del front["eu_ai_act"]["eu_database_registration"]
    problems = cards.validate(front, "eu-ai-act-high-risk", "card.md")
    expected = ["eu_ai_act.eu_database_registration"] if registered else []
    assert [p.field for p in problems] == expected
    if registered:
        assert "Art. 49(1)" in str(problems[0])
        assert cards.validate(front, "standard", "card.md") == []


def test_an_empty_classification_or_procedure_asks_for_itself_only():
    front = complete_front()
    front["eu_ai_act"]["classification"] = front["eu_ai_act"]["conformity_assessment"] = None
    del front["eu_ai_act"]["eu_database_registration"]
    problems = cards.validate(front, "eu-ai-act-high-risk", "card.md")
    assert [(p.field, p.message.split(";")[0]) for p in problems] == [
        ("eu_ai_act.classification", "empty"), ("eu_ai_act.conformity_assessment", "empty")]


def test_high_risk_profile_requires_the_certificate_where_a_notified_body_assessed():
    front = complete_front()
    front["eu_ai_act"]["conformity_assessment"] = {"procedure": "notified-body"}
    problems = cards.validate(front, "eu-ai-act-high-risk", "card.md")
    assert [p.field for p in problems] == ["eu_ai_act.notified_body_certificate"]
    assert "Annex VIII Section A point 8" in str(problems[0])
    front["eu_ai_act"]["notified_body_certificate"] = {
        "type": "Annex VII", "number": "NB-42", "expiry_date": "2031-01-31",
        "notified_body": "0123"}
    assert cards.validate(front, "eu-ai-act-high-risk", "card.md") == []


def test_a_complete_high_risk_card_parses_as_a_hugging_face_model_card():
    from huggingface_hub import ModelCard

    from model_registry import yamlio

    front = complete_front()
    front["eu_ai_act"]["serious_incidents"] = [
        {"version": "v1.0.0", "reference": "MSA-2026-0042", "date": "2026-03-02"}]
    assert cards.validate(front, "eu-ai-act-high-risk", "card.md") == []
    card = ModelCard(f"---\n{yamlio.dump(front)}---\n# churn\n")
    data = card.data.to_dict()
    assert data["eu_ai_act"]["classification"] == {"basis": "art-6-2", "annex_iii_point": "5(b)"}
    assert data["eu_ai_act"]["serious_incidents"][0]["reference"] == "MSA-2026-0042"
    assert card.data.eval_results[0].metric_value == 0.91


def test_check_warns_of_each_card_with_risk_level_and_says_what_to_write(bake, tmp_path):
    repo = bake()
    for name, level in (("churn", "limited"), ("fraud", "high")):
        model = tmp_path / f"{name}.pkl"
        model.write_bytes(name.encode())
        registry(repo, "register", name, str(model))
        card = repo / "models" / name / "card.md"
        card.write_text(card.read_text().replace("eu_ai_act:\n",
                                                 f"eu_ai_act:\n  risk_level: {level}\n"))
    proc = registry(repo, "check")
    assert proc.returncode == 0
    assert proc.stdout.startswith("2 card(s) checked, no problems, 2 warning(s)")
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 2
    churn = next(w for w in warnings if "models/churn/card.md" in w)
    fraud = next(w for w in warnings if "models/fraud/card.md" in w)
    assert churn.startswith("warning: models/churn/card.md: eu_ai_act.risk_level 'limited' is "
                            "retired")
    assert "classification: {basis: not-high-risk}" in churn
    assert "transparency_obligations: {applies: true, paragraphs: [\"50(1)\"]" in churn
    assert "classification: {basis: art-6-2, annex_iii_point: ...}" in fraud
    report = json.loads(registry(repo, "check", "--json").stdout)
    assert report["ok"] and report["problems"] == []
    assert sorted(report["warnings"]) == sorted(w[len("warning: "):] for w in warnings)

    for name in ("churn", "fraud"):
        card = repo / "models" / name / "card.md"
        text = re.sub(r"  risk_level: \w+\n", "", card.read_text())
        card.write_text(text.replace("  classification: null",
                                     "  classification: {basis: not-high-risk}"))
    proc = registry(repo, "check")
    assert proc.stderr == "" and proc.stdout.startswith("2 card(s) checked, no problems\n")


def test_a_classification_without_the_reference_its_basis_needs_fails_check(bake, tmp_path):
    repo = bake()
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    registry(repo, "register", "churn", str(model))
    card = repo / "models/churn/card.md"
    card.write_text(card.read_text().replace("  classification: null",
                                             "  classification: {basis: art-6-3}"))
    proc = registry(repo, "check", check=False)
    assert proc.returncode == 2
    for field in ("annex_iii_point (Art. 6(2))", "art_6_3_conditions (Art. 6(3)",
                  "assessment (Art. 6(4))"):
        assert f"models/churn/card.md: eu_ai_act.classification.{field}" in proc.stderr


@pytest.fixture(scope="module")
def incidents(tmp_path_factory):
    """churn v1.0.0, then a serious incident recorded for it on main, then v1.1.0."""
    root = tmp_path_factory.mktemp("incidents")
    repo = bake_template(root)
    for i in range(2):
        model = root / f"m{i}.pkl"
        model.write_bytes(bytes([i]) * 100)
        registry(repo, "register", "churn", str(model), "--version", f"v1.{i}.0")
        if i == 0:
            card = repo / "models/churn/card.md"
            card.write_text(card.read_text().replace(
                "eu_ai_act:\n", "eu_ai_act:\n  serious_incidents:\n"
                "    - {version: v1.0.0, reference: MSA-2026-0042, date: 2026-03-02, "
                "reported_to: Bundesnetzagentur, summary: wrong refusals}\n"))
            registry(repo, "check")
            git(repo, "commit", "-qam", "record a serious incident of v1.0.0")
    return repo


def section(out: str, start: str, end: str) -> str:
    return out.split(start, 1)[1].split(end, 1)[0]


def test_doc_places_oversight_and_output_interpretation_under_annex_iv_point_3(incidents):
    out = registry(incidents, "doc", "churn@v1.1.0").stdout
    point_2 = section(out, "(Annex IV point 2)", "(Annex IV point 3)")
    point_3 = section(out, "(Annex IV point 3)", "(Annex IV point 4)")
    for field in ("human_oversight", "output_interpretation", "explainability"):
        assert f"| {field} | {EU_FIELDS[field]['x-provision']} |" in point_3
        assert f"| {field} |" not in point_2
    records = section(out, "## Record-keeping and transparency", "## Still missing")
    for field in ("logging", "log_retention", "documentation_retention", "expected_lifetime",
                  "maintenance"):
        assert f"| {field} |" in records
    obligations = section(out, "## Classification, quality management", "## Serious incidents")
    for field in ("owner", "classification", "transparency_obligations",
                  "quality_management_system", "conformity_assessment",
                  "notified_body_certificate", "eu_database_registration"):
        assert f"| {field} |" in obligations


def test_doc_says_it_is_the_model_level_part_and_refers_to_the_declaration(incidents):
    out = registry(incidents, "doc", "churn@v1.1.0").stdout
    assert out.startswith("# Technical documentation: churn v1.1.0 (model-level part)\n")
    assert "This is the model-level part of the technical documentation" in out
    point_8 = section(out, "(Annex IV point 8)", "(Annex IV point 9)")
    assert "| declaration_of_conformity | Annex IV 8; Art. 47 |" in point_8
    assert "asks for a copy of the EU declaration of conformity" in point_8


def test_doc_and_site_list_the_serious_incidents_of_the_version(incidents, tmp_path):
    first = section(registry(incidents, "doc", "churn@v1.0.0").stdout,
                    "## Serious incidents (Art. 73)", "## Record-keeping")
    assert "| MSA-2026-0042 | 2026-03-02 | Bundesnetzagentur | wrong refusals |" in first
    later = section(registry(incidents, "doc", "churn@v1.1.0").stdout,
                    "## Serious incidents (Art. 73)", "## Record-keeping")
    assert "None recorded for v1.1.0." in later and "MSA-2026-0042" not in later
    registry(incidents, "site", "-o", str(tmp_path / "site"))
    page = (tmp_path / "site/models/churn/v1.0.0.html").read_text()
    listed = page.split('id="incidents"', 1)[1].split("</section>", 1)[0]
    assert "MSA-2026-0042" in listed and "Bundesnetzagentur" in listed
    page = (tmp_path / "site/models/churn/v1.1.0.html").read_text()
    listed = page.split('id="incidents"', 1)[1].split("</section>", 1)[0]
    assert "None recorded for this version." in listed
