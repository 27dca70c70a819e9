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
                     "human_oversight", "risk_level")


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
        block.append(f"  {name}: {value}  # {spec['description']} ({spec['x-provision']})\n")
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
