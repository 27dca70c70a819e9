"""registry.yaml: the rules of this registry (stages, promotion order, card profile, defaults).

Any git repository with gto's tags can be read, with or without registry.yaml: without it,
the defaults below hold (the standard card profile, no signing rule), and the stages are
those `.gto` lists, else those the tags use (see core.Registry.stages). Only reads run
there: writing needs the registry's rules, so writing commands ask to adopt it first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import yamlio
from .errors import InputError
from .tags import check_name

CONFIG_FILE = "registry.yaml"
GTO_FILE = ".gto"
PROFILES = ("standard", "eu-ai-act-high-risk")


@dataclass
class Config:
    stages: list[str] | None  # None: no registry.yaml, so none configured here
    promotion: dict[str, list[str]] = field(default_factory=dict)
    card_profile: str = "standard"
    defaults: dict = field(default_factory=dict)
    remote: str | None = None
    require_signed_tags: bool = False
    allowed_signers: str = "allowed_signers"
    from_file: bool = True  # False: the defaults of a repository without registry.yaml

    def check_stage(self, stage: str) -> str:
        if stage not in self.stages:
            raise InputError(f"unknown stage {stage!r}: use one of {', '.join(self.stages)} "
                             f"(stages are listed in {CONFIG_FILE})")
        return stage


def load(root: str, committed: bytes | None = None) -> Config:
    """The settings in the work tree's registry.yaml, or `committed` (its text at HEAD) where
    there is no work tree, as in a `--no-checkout` clone made by `get --repo`; the defaults
    where there is neither."""
    path = os.path.join(root, CONFIG_FILE)
    if os.path.exists(path):
        with open(path, "rb") as f:
            committed = f.read()
    if committed is None:
        return Config(stages=None, from_file=False)
    data = yamlio.load(committed, CONFIG_FILE)
    if not isinstance(data, dict):
        raise InputError(f"{CONFIG_FILE} must be a mapping of settings")
    stages = data.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise InputError(f"{CONFIG_FILE}: 'stages' must be a list of names")
    for stage in stages:
        check_name(stage, f"stage in {CONFIG_FILE}")
    promotion = data.get("promotion") or {}
    if not isinstance(promotion, dict) or not all(
            isinstance(v, list) and set(v) <= set(stages) and k in stages
            for k, v in promotion.items()):
        raise InputError(f"{CONFIG_FILE}: 'promotion' must map a stage to the stages a "
                         "version must hold before it, all of them listed in 'stages'")
    profile = data.get("card_profile", "standard")
    if profile not in PROFILES:
        raise InputError(f"{CONFIG_FILE}: card_profile must be one of {', '.join(PROFILES)}")
    signers = data.get("allowed_signers") or "allowed_signers"
    if not isinstance(signers, str) or os.path.isabs(signers) or ".." in signers.split("/"):
        raise InputError(f"{CONFIG_FILE}: 'allowed_signers' must be a path inside the registry")
    return Config(stages=stages, promotion=promotion, card_profile=profile,
                  defaults=data.get("defaults") or {}, remote=data.get("remote"),
                  require_signed_tags=bool(data.get("require_signed_tags", False)),
                  allowed_signers=signers)


def gto_stages(data: bytes | None) -> list[str] | None:
    """The stages a `.gto` file lists, in its order; None when it lists none (gto then takes
    any stage name)."""
    doc = yamlio.load(data, GTO_FILE) if data else None
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if stages is None:
        return None
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise InputError(f"{GTO_FILE}: 'stages' must be a list of names")
    for stage in stages:
        check_name(stage, f"stage in {GTO_FILE}")
    return list(dict.fromkeys(stages))
