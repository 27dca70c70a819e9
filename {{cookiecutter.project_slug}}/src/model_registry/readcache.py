"""What `list` and `which` worked out last time, kept in the git folder and keyed by object ids.

Reading every tag object costs git about 1 s per 100k tags, Python more, and `which` also
reads the card of every version whose tag does not give its hashes. What they work out depends
only on git objects, which never change, so it is kept under their ids: `list`'s answer under a
digest of every tag's name and object id (any tag added, deleted or moved changes it), a
version's hashes (from its tag's message, else its card) under its tag's object id and the
card's path. The file is only a shortcut: when it is missing, damaged, stale
or cannot be written, the helper reads git as if there were none.
"""

from __future__ import annotations

import json
import os

FILE = "model-registry-cache.json"
_FORMAT = 2
# Lower-case hex digits as "x", anything else as ".": runs are then found with bytes.find,
# some fifteen times faster than a regular expression over 100 MB of cards.
_HEX_MAP = bytes(120 if chr(c) in "0123456789abcdef" else 46 for c in range(256))
_RUN = b"x" * 32


def hashes_in(blob: bytes | None) -> list[str]:
    """Every maximal run of lower-case hex digits in `blob` (a card) as long as an md5 or a
    sha256: a card whose front matter gives HASH as an artifact's hash holds it as one."""
    found: dict[str, None] = {}
    marks = blob.translate(_HEX_MAP) if blob else b""
    start = marks.find(_RUN)
    while start >= 0:
        end = marks.find(b".", start)
        end = len(marks) if end < 0 else end
        if end - start in (32, 64):
            found[blob[start:end].decode()] = None
        start = marks.find(_RUN, end)
    return list(found)


def tags_key(pairs: list[tuple[str, str]]) -> str:
    """A digest of every tag's name and object id (it changes whenever any tag does) and of
    the helper's version (another version may answer differently)."""
    import hashlib

    from . import __version__
    text = "\n".join([__version__, *map(" ".join, pairs)])
    return hashlib.sha256(text.encode()).hexdigest()


class ReadCache:
    """`list`: the tags' digest and the answer for it; `cards`: "TAG_ID:PATH" -> the hashes
    that tag's message gives, else the hex runs of that card (empty for a tag that is no
    registration), complete for the tags whose digest is `cards_key`."""

    def __init__(self, git_dir: str):
        self.path = os.path.join(git_dir, FILE)
        self.list_key, self.list, self.cards_key = "", None, ""
        self.cards: dict[str, list[str]] = {}
        self.changed = False
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if data.get("format") == _FORMAT:
                self.list_key, self.list, self.cards_key, self.cards = _checked(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.list_key, self.list, self.cards_key, self.cards = "", None, "", {}

    def set_list(self, key: str, answer: list) -> None:
        self.list_key, self.list, self.changed = key, answer, True

    def set_cards(self, key: str, cards: dict[str, list[str]]) -> None:
        """Replace the card entries (dropping those of tags gone since) with those of every
        tag whose digest is `key`."""
        if (key, cards) != (self.cards_key, self.cards):
            self.cards_key, self.cards, self.changed = key, cards, True

    def save(self) -> None:
        """Write it if anything changed, atomically; not at all where git's folder is
        read-only."""
        if not self.changed:
            return
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:  # dumps: json.dump is 10x slower
                f.write(json.dumps({"format": _FORMAT, "list_key": self.list_key,
                                    "list": self.list, "cards_key": self.cards_key,
                                    "cards": self.cards}, separators=(",", ":")))
            os.replace(tmp, self.path)
            self.changed = False
        except OSError:
            try:
                os.remove(tmp)
            except OSError:
                pass


def _checked(data: dict) -> tuple[str, list | None, str, dict[str, list[str]]]:
    """The cache's parts, if each has the shape the helper writes (else ValueError)."""
    key, answer, cards_key, cards = (data["list_key"], data["list"], data["cards_key"],
                                     data["cards"])
    if not (isinstance(key, str) and (answer is None or isinstance(answer, list) and
                                      all(isinstance(m, dict) for m in answer))
            and isinstance(cards_key, str) and isinstance(cards, dict)
            and all(isinstance(v, list) and all(isinstance(h, str) for h in v)
                    for v in cards.values())):
        raise ValueError("not a read cache")
    return key, answer, cards_key, cards
