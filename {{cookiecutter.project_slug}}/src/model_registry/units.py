"""Dates, sizes and nested values as the helper shows them, each written once.

Every command, report and page formats through these, so a date or a size reads the same in
`history`, in `doc` and on the site.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def iso_utc(ts: int) -> str:
    """A Unix time as ISO 8601 in UTC with a `Z`, as the JSON output gives every date."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def iso_local(ts: int, zone: str) -> str:
    """A Unix time in the zone git recorded beside it (`+0200`), as gto prints tag dates."""
    sign = -1 if zone.startswith("-") else 1
    offset = timedelta(hours=int(zone[-4:-2]), minutes=int(zone[-2:]))
    return datetime.fromtimestamp(ts, timezone(sign * offset)).isoformat()


def shown_date(iso: str | None) -> str:
    """An `iso_utc` date for people: minutes, no `T`, the zone spelled out; `-` for none."""
    return iso.replace("T", " ")[:16] + " UTC" if iso else "-"


def size(n) -> str:
    """A byte count in binary units (`1.5 MiB`); `-` for anything that is not a count."""
    if not isinstance(n, int) or isinstance(n, bool):
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def flatten(value, prefix: str = "", index_lists: bool = False) -> dict:
    """A nested mapping as dotted keys (`registry.artifact.md5`) to its leaf values.

    Lists are leaves, unless `index_lists` and they hold mappings or lists: then each item is
    flattened under `key[i]`. An empty mapping is a leaf, so it still shows as a field.
    """
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key), index_lists))
        return out
    if index_lists and isinstance(value, list) and any(isinstance(v, (dict, list))
                                                       for v in value):
        out = {}
        for number, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{number}]", index_lists))
        return out
    return {prefix: value}
