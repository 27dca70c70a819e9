"""YAML in and out, safely: the safe loader only, bounded size, errors that name the file.

PyYAML is imported on first use: `list` and `which` read only tags, and its import is a
tenth of their start-up.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import InputError

MAX_BYTES = 1 << 20


@lru_cache(maxsize=None)
def _yaml():
    """PyYAML, and its fastest safe loader and dumper."""
    import yaml
    return (yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader),
            getattr(yaml, "CSafeDumper", yaml.SafeDumper))


def load(data: bytes | str, source: str, aliases: bool = True):
    """Parse YAML from `source` (a file name, for messages); never constructs Python objects.

    With aliases=False, anchors and aliases are refused: a card has no use for them, and a few
    nested aliases (a "billion laughs") expand to more data than any reader should walk.
    """
    if len(data) > MAX_BYTES:
        raise InputError(f"{source} is larger than {MAX_BYTES} bytes: keep it small")
    yaml, loader, _ = _yaml()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source} is not valid UTF-8: save it as UTF-8") from None
    try:
        if not aliases and ("&" in data or "*" in data):
            for event in yaml.parse(data, Loader=loader):
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise InputError(f"{source}: YAML anchors and aliases are not allowed "
                                     "here; write the values out")
        return yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"{source}{where}: {problem}; fix the YAML and try again") from None


def dump(data) -> str:
    yaml, _, dumper = _yaml()
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)
