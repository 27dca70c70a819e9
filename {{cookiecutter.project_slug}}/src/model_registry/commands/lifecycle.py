"""A version's life after registration: `promote`, `demote`, `deregister`, `deprecate`.

Each writes one tag (see publish); none touches a file of the work tree.
"""

from __future__ import annotations

from .. import publish
from ..core import Registry
from ..errors import InputError, NotFoundError
from ..results import TagWritten
from ..tags import (ASSIGN, DEPRECATE, DEREGISTER, UNASSIGN, check_name, check_version,
                    deprecate_tag, deregister_tag, next_counter)


def promote(reg: Registry, name: str, version: str, stage: str, *, message: str | None = None,
            push: bool = False, sign: bool = False) -> TagWritten:
    """Assign `stage` to a version; nothing changes if it holds the stage already."""
    reg.writable()
    check_name(name)
    check_version(version)
    reg.config.check_stage(stage)
    state, target = reg.locate(f"{name}@{version}")
    held = state.stages_of(target)
    if stage in held:
        return TagWritten(name=name, version=version, stage=stage, tag=None,
                          commit=target.commit, pushed=False, changed=False)
    required = reg.config.promotion.get(stage) or []
    if required and not set(required) & set(held):
        raise InputError(f"{name} {version} must be in {' or '.join(required)} before "
                         f"{stage}: promote it there first")
    return publish.stage_tag(reg, state, target, stage, ASSIGN, message, push, sign)


def demote(reg: Registry, name: str, stage: str, *, message: str | None = None,
           push: bool = False, sign: bool = False) -> TagWritten:
    reg.writable()
    check_name(name)
    check_name(stage, "stage")
    state = reg.model(name)
    target = state.stages.get(stage)
    if target is None:
        raise NotFoundError(f"no version of {name} is in stage {stage!r}: nothing to demote")
    return publish.stage_tag(reg, state, target, stage, UNASSIGN, message, push, sign)


def deregister(reg: Registry, name: str, version: str, *, message: str | None = None,
               push: bool = False, sign: bool = False) -> TagWritten:
    reg.writable()
    check_name(name)
    check_version(version)
    state, target = reg.locate(f"{name}@{version}")
    return publish.write_tag(reg, state, deregister_tag(name, version), target.commit,
                             DEREGISTER, message or f"Deregister {name} {version}", push, sign,
                             version=version)


def deprecate(reg: Registry, name: str, *, message: str | None = None, push: bool = False,
              sign: bool = False) -> TagWritten:
    reg.writable()
    check_name(name)
    state = reg.model(name)
    if not state.events:
        raise NotFoundError(f"no model named {name!r} in this registry: see `registry list`")
    if state.deprecated:
        raise InputError(f"{name} is already deprecated: nothing to do")
    names = [n for n, _ in reg.git.tags(name)[1]]
    tag_name = deprecate_tag(name)
    if tag_name in names:
        tag_name = f"{tag_name}#{next_counter(name, names)}"
    return publish.write_tag(reg, state, tag_name, reg.git.head(), DEPRECATE,
                             message or f"Deprecate {name}", push, sign)
