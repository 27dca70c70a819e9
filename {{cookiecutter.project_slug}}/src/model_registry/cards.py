"""Model cards: `models/NAME/card.md`, YAML front matter (Hugging Face keys, plus the `registry:`
block this helper fills and an `eu_ai_act:` block people fill) and a Markdown body."""

from __future__ import annotations

from importlib import resources

from . import yamlio
from .errors import InputError

CARD_FILE = "card.md"
_FENCE = "---"


def card_path(model: str) -> str:
    return f"models/{model}/{CARD_FILE}"


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
    front = yamlio.load("".join(lines[1:end]), source)
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


def new_card(model: str, defaults: dict) -> str:
    """The text of the card a model gets on its first registration, with the registry defaults."""
    template = resources.files(__package__).joinpath("card_template.md").read_text("utf-8")
    text = template.replace("MODEL_NAME", model)
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
