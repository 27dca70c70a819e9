"""Model cards: `models/NAME/card.md`, YAML front matter (Hugging Face keys, plus the `registry:`
block this helper fills and an `eu_ai_act:` block people fill) and a Markdown body."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from functools import lru_cache

from . import yamlio
from .errors import InputError

CARD_FILE = "card.md"
SCHEMA_FILE = "card.schema.json"
_FENCE = "---"
# eu_ai_act fields a `standard` card starts with; eu-ai-act-high-risk cards start with all of them.
STANDARD_SKELETON = ("intended_purpose", "capabilities_and_limitations", "foreseeable_risks",
                     "human_oversight", "classification", "transparency_obligations")
# A skeleton line longer than this puts its hint (a quotation of the Act, mostly) on comment
# lines above the field, wrapped to the card's width.
_INLINE_HINT = 132
_CARD_WIDTH = 100


def card_path(model: str) -> str:
    return f"models/{model}/{CARD_FILE}"


def card_at(commit: str, model: str) -> str:
    """How git names the card of `model` as committed at `commit` (`git cat-file` input)."""
    return f"{commit}:{card_path(model)}"


def split(text: str, source: str) -> tuple[dict, str]:
    """Front matter and body of a card; a card without front matter is an error, not empty."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _FENCE:
        raise InputError(f"{source} has no YAML front matter: start it with a '---' line")
    for end in range(1, len(lines)):
        if lines[end].rstrip() == _FENCE:
            break
    else:
        raise InputError(f"{source}: front matter is not closed: add a '---' line after it")
    front = yamlio.load("".join(lines[1:end]), source, aliases=False)
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise InputError(f"{source}: front matter must be a mapping of fields, not a "
                         f"{type(front).__name__}")
    return front, "".join(lines[end + 1:])


def update(text: str, source: str, changes: dict) -> str:
    """The card with top-level front-matter keys set to new values, all else kept as written.

    People write cards, with comments and an order that mean something to them, so only the
    lines of the changed keys are rewritten. Should the result not read back as intended
    (unusual YAML layout), the whole front matter is rewritten instead.
    """
    front, body = split(text, source)
    lines = text.splitlines(keepends=True)
    end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE)
    head = lines[1:end]
    for key, value in changes.items():
        block = yamlio.dump({key: value}).splitlines(keepends=True)
        start = next((i for i, l in enumerate(head) if l.startswith(f"{key}:")), None)
        if start is None:
            head += block
            continue
        stop = start + 1
        while stop < len(head) and (head[stop][:1] in (" ", "\t", "-") or not head[stop].strip()):
            stop += 1
        while stop > start + 1 and not head[stop - 1].strip():
            stop -= 1
        head[start:stop] = block
    result = "".join([lines[0], *head, lines[end], *lines[end + 1:]])
    if split(result, source)[0] != {**front, **changes}:
        result = f"{_FENCE}\n{yamlio.dump({**front, **changes})}{_FENCE}\n{body}"
    return result


def new_card(model: str, defaults: dict, profile: str) -> str:
    """The text of a model's first card: the template, this registry's defaults, and an
    `eu_ai_act:` block built from the schema, each field with its hint and provision."""
    import textwrap
    from importlib import resources  # not at the top: importing it costs resolve ~10 ms
    template = resources.files(__package__).joinpath("card_template.md").read_text("utf-8")
    schema_path = posixpath.relpath(f"src/{__package__}/{SCHEMA_FILE}", f"models/{model}")
    text = template.replace("MODEL_NAME", model).replace("SCHEMA_PATH", schema_path)
    fields = schema()["properties"]["eu_ai_act"]["properties"]
    wanted = fields if profile == "eu-ai-act-high-risk" else STANDARD_SKELETON
    block = ["eu_ai_act:\n"]
    for name in wanted:
        spec = fields[name]
        value = "{name: null, contact: null}" if name == "provider" else "null"
        hint = f"{spec['description']} ({spec['x-provision']})"
        line = f"  {name}: {value}  # {hint}\n"
        if len(line) > _INLINE_HINT:
            block += [f"  # {part}\n" for part in textwrap.wrap(hint, _CARD_WIDTH - 4)]
            line = f"  {name}: {value}\n"
        block.append(line)
    head, sep, rest = text.partition("\n---\n")
    text = head + "\n" + "".join(block).rstrip("\n") + sep + rest
    return update(text, "card template",
                  {k: defaults[k] for k in ("license", "owner") if defaults.get(k)})


def model_index(front: dict, model: str, metrics: dict[str, float]) -> list:
    """Evaluation results as a Hugging Face `model-index` value."""
    task = {"type": front.get("pipeline_tag") or "other"}
    datasets = front.get("datasets") or ["unspecified"]
    dataset = {"name": str(datasets[0]), "type": str(datasets[0])}
    return [{
        "name": model,
        "results": [{
            "task": task,
            "dataset": dataset,
            "metrics": [{"type": k, "name": k, "value": v} for k, v in metrics.items()],
        }],
    }]


def metrics_of(front: dict) -> dict[str, float]:
    out = {}
    for entry in front.get("model-index") or []:
        for result in (entry or {}).get("results") or []:
            for metric in (result or {}).get("metrics") or []:
                if isinstance(metric, dict) and "type" in metric:
                    out[str(metric.get("name") or metric["type"])] = metric.get("value")
    return out


def incidents_of(version: str, *fronts: dict) -> list[dict]:
    """The serious incidents (Art. 73) that cards record for `version`, each once. A card
    carries its list forward from version to version, so each entry names the version it
    concerns, and an incident found after a version was tagged is in later cards only."""
    found: dict = {}
    for front in fronts:
        eu = front.get("eu_ai_act")
        listed = eu.get("serious_incidents") if isinstance(eu, dict) else None
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict) and item.get("version") == version:
                found.setdefault(str(item.get("reference")), item)
    return list(found.values())


def risk_level_warning(front: dict, source: str) -> str | None:
    """What to write instead of the retired `eu_ai_act.risk_level`, if the card still has it.

    Its classes (minimal, limited, high) are not the Regulation's: Art. 6 classifies a
    system as high-risk or not, and Art. 50 sets transparency obligations apart from that.
    Cards keep validating with it for one release; `check` names each such card.
    """
    eu = front.get("eu_ai_act")
    if not isinstance(eu, dict) or "risk_level" not in eu:
        return None
    level = eu["risk_level"]
    field = f"{source}: eu_ai_act.risk_level"
    if isinstance(eu.get("classification"), dict):
        return f"{field} is retired and `classification` replaces it: remove risk_level"
    transparency = ("transparency_obligations: {applies: false}, or {applies: true, paragraphs: "
                    "[...], measures: ...} where Art. 50 applies")
    if level == "high":
        instead = ("classification: {basis: art-6-2, annex_iii_point: ...} (the Annex III point "
                   "it is listed in, e.g. \"4(a)\"), or classification: {basis: art-6-1, "
                   "annex_i_legislation: ...} (a product under Annex I legislation)")
    elif level in ("minimal", "limited"):
        instead = ("classification: {basis: not-high-risk} (neither Art. 6(1) nor 6(2) applies), "
                   "or classification: {basis: art-6-3, annex_iii_point: ..., art_6_3_conditions: "
                   "[...], assessment: ...} (listed in Annex III but not high-risk, Art. 6(3)-(4))")
        if level == "limited":
            transparency = ("transparency_obligations: {applies: true, paragraphs: [\"50(1)\"], "
                            "measures: ...} (the paragraphs of Art. 50 that apply)")
    else:
        instead = ("classification: {basis: ...} (art-6-1, art-6-2, art-6-3, not-high-risk or "
                   "outside-scope)")
    shown = "" if level is None else f" {level!r}"
    return (f"{field}{shown} is retired (minimal, limited and high are not classes of "
            f"Regulation (EU) 2024/1689): replace it with {instead}, and add {transparency}")


# ------------------------------------------------------------------ schema and profiles


@lru_cache(maxsize=None)
def schema() -> dict:
    """The card JSON Schema shipped with the helper (draft 2020-12)."""
    from importlib import resources
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8"))


@dataclass
class CardSide:
    """A model's card at one revision (or in the work tree), and the artifact it records:
    one side of a review's comparison."""

    label: str
    version: object
    md5: object
    sha256: object
    size: object
    front: dict
    body: str


@dataclass
class Problem:
    """One thing wrong with a card: where, which provision it serves, and how to fix it."""

    file: str
    field: str
    provision: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        provision = f" ({self.provision})" if self.provision else ""
        return f"{where}{provision}: {self.message}"


def _spec(path: list) -> dict:
    """The schema of the field at `path` (list indexes skipped), or {} if it has none."""
    node = schema()
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
    return node


def problem(source: str, path: list, message: str) -> Problem:
    spec = _spec(path)
    provision = spec.get("x-provision", "")
    parents = path[:-1]
    while not provision and parents:
        provision = _spec(parents).get("x-provision", "")
        parents = parents[:-1]
    hint = spec.get("description")
    field = ".".join(str(p) for p in path)
    return Problem(source, field, provision, f"{message}; {hint}" if hint else message)


def validate(front: dict, profile: str, source: str) -> list[Problem]:
    """Every way `front` falls short of the schema under `profile`, missing fields first."""
    from jsonschema import Draft202012Validator

    root = schema()
    profile_schema = {**root["$defs"]["profiles"][profile], "$defs": root["$defs"]}
    problems = []
    for check in (Draft202012Validator(root), Draft202012Validator(profile_schema)):
        for error in sorted(check.iter_errors(front), key=lambda e: list(e.absolute_path)):
            path = list(error.absolute_path)
            if error.validator == "required":
                present = error.instance if isinstance(error.instance, dict) else {}
                for name in error.validator_value:
                    if name not in present:
                        problems.append(problem(source, path + [name], "missing"))
            elif error.validator == "not" and error.validator_value == root["$defs"]["filled"]["not"]:
                problems.append(problem(source, path, "empty"))
            else:
                problems.append(problem(source, path, error.message))
    unique = {str(p): p for p in problems}
    return list(unique.values())
