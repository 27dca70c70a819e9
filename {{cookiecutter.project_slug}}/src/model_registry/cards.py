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


def join(front: dict, body: str) -> str:
    return f"{_FENCE}\n{yamlio.dump(front)}{_FENCE}\n{body}"


def new_card(model: str, defaults: dict) -> tuple[dict, str]:
    """The card a model gets on its first registration, with this registry's defaults."""
    template = resources.files(__package__).joinpath("card_template.md").read_text("utf-8")
    front, body = split(template, "card template")
    for key in ("license", "owner"):
        if defaults.get(key):
            front[key] = defaults[key]
    return front, body.replace("MODEL_NAME", model)


def set_metrics(front: dict, model: str, metrics: dict[str, float]) -> None:
    """Record evaluation results as Hugging Face `model-index` entries."""
    task = {"type": front.get("pipeline_tag") or "other"}
    datasets = front.get("datasets") or ["unspecified"]
    dataset = {"name": str(datasets[0]), "type": str(datasets[0])}
    front["model-index"] = [{
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
