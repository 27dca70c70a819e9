"""YAML in and out, safely: the safe loader only, bounded size, errors that name the file."""

from __future__ import annotations

import yaml

from .errors import InputError

MAX_BYTES = 1 << 20
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(data: bytes | str, source: str, aliases: bool = True):
    """Parse YAML from `source` (a file name, for messages); never constructs Python objects.

    With aliases=False, anchors and aliases are refused: a card has no use for them, and a few
    nested aliases (a "billion laughs") expand to more data than any reader should walk.
    """
    if len(data) > MAX_BYTES:
        raise InputError(f"{source} is larger than {MAX_BYTES} bytes: keep it small")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source} is not valid UTF-8: save it as UTF-8") from None
    try:
        if not aliases and ("&" in data or "*" in data):
            for event in yaml.parse(data, Loader=_Loader):
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise InputError(f"{source}: YAML anchors and aliases are not allowed "
                                     "here; write the values out")
        return yaml.load(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"{source}{where}: {problem}; fix the YAML and try again") from None


def dump(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)
