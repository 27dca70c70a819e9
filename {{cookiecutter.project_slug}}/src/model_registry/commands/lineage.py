"""`lineage`: how a version was made, read from its card at the tagged commit."""

from __future__ import annotations

from ..core import Registry
from ..errors import NotFoundError
from ..results import Lineage
from ..tags import parse_ref


def lineage(reg: Registry, ref: str) -> Lineage:
    """The lineage `register --from` or `--params` recorded for `ref`'s version; `recorded`
    is False for a version registered without them."""
    state, version = reg.locate(ref)
    found = reg.describe(state, version, parse_ref(ref).stage)
    side = reg.card_side(version.model, version.version, version.commit)
    if side is None:
        raise NotFoundError(f"{version.model} {version.version} has no card: nothing records "
                            "its lineage")
    block = side.front.get("registry") if isinstance(side.front.get("registry"), dict) else {}
    recorded = block.get("lineage") if isinstance(block.get("lineage"), dict) else {}
    if not recorded:
        return Lineage(**vars(found))
    return Lineage(**vars(found), recorded=True, repo=recorded.get("repo"),
                   training_commit=recorded.get("commit"), dirty=recorded.get("dirty"),
                   training_stage=recorded.get("stage"),
                   outside_pipeline=bool(recorded.get("outside_pipeline")),
                   cmd=recorded.get("cmd"), params=recorded.get("params") or {},
                   deps=recorded.get("deps") or [], upstream=recorded.get("upstream") or [],
                   upstream_truncated=recorded.get("upstream_truncated"),
                   run=recorded.get("run"))
