"""docs/ai-act-mapping.md: its field table is the card schema's (docs/ai_act_table.py writes
it), every provision the table cites is quoted or headed in the hand-written part, and every
quotation is the Regulation's own text, found in the excerpts kept beside the repository."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass

import pytest

from support import TEMPLATE

MAPPING = TEMPLATE / "docs" / "ai-act-mapping.md"
EXCERPTS = TEMPLATE.parent / "shared" / "references" / "ai-act-2024-1689-excerpts.md"

_SEGMENTS = r"(?:\([0-9a-z]+\))*"
_MORE = rf"(?P<more>(?:\s*(?:-|–|,|and|or|to)\s*\([0-9a-z]+\){_SEGMENTS})*)"
_ARTICLE = re.compile(rf"\bArt(?:icle|\.)?\s*(?P<num>\d+)(?P<path>{_SEGMENTS}){_MORE}")
_ANNEX = re.compile(
    r"\bAnnex\s+(?P<num>[IVXL]+)\b(?:,?\s+[Ss]ection\s+(?P<sec>[A-Z0-9])\b)?"
    rf"(?:[.,]?\s*(?:point\s+)?(?:(?P<sec2>[A-Z])\.)?(?P<pt>\d+)(?P<path>{_SEGMENTS}){_MORE})?")
_QUOTE = re.compile(r'^>\s*\*\*(?P<label>[^*]+)\*\*:?\s*"(?P<text>.+)"\s*$')


@dataclass(frozen=True)
class Citation:
    """One provision: `Art. 13(3)(b)(ii)` is ("Art", "13", None, ("3", "b", "ii")); `Annex VIII
    Section A point 4` is ("Annex", "VIII", "A", ("4",))."""

    kind: str
    number: str
    section: str | None
    path: tuple[str, ...]

    def __str__(self) -> str:
        if self.kind == "Art":
            return f"Art. {self.number}" + "".join(f"({p})" for p in self.path)
        section = f" Section {self.section}" if self.section else ""
        point = self.path[0] + "".join(f"({p})" for p in self.path[1:]) if self.path else ""
        return f"Annex {self.number}{section} {point}".strip()

    def meets(self, other: Citation) -> bool:
        """True when one of the two contains the other (Art. 13(3) and Art. 13(3)(b))."""
        if (self.kind, self.number) != (other.kind, other.number):
            return False
        if self.section and other.section and self.section != other.section:
            return False
        shorter = min(len(self.path), len(other.path))
        return self.path[:shorter] == other.path[:shorter]


def _split(segments: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\(([0-9a-z]+)\)", segments))


def citations(text: str) -> list[Citation]:
    """Every provision `text` names; `Art. 18(1)(c)-(d)` names Art. 18(1)(c) and 18(1)(d)."""
    found = []
    for match in _ARTICLE.finditer(text):
        base = _split(match["path"])
        found.append(Citation("Art", match["num"], None, base))
        found += _alternatives("Art", match["num"], None, base, match["more"])
    for match in _ANNEX.finditer(text):
        section = match["sec"] or match["sec2"]
        base = ((match["pt"],) + _split(match["path"])) if match["pt"] else ()
        found.append(Citation("Annex", match["num"], section, base))
        found += _alternatives("Annex", match["num"], section, base, match["more"] or "")
    return found


def _alternatives(kind, number, section, base, more) -> list[Citation]:
    """The other ends of a range or list: each replaces the last parts of `base`."""
    out = []
    for alternative in re.findall(rf"\([0-9a-z]+\){_SEGMENTS}", more):
        parts = _split(alternative)
        out.append(Citation(kind, number, section, base[:len(base) - len(parts)] + parts))
    return out


def _script():
    spec = importlib.util.spec_from_file_location("ai_act_table",
                                                  TEMPLATE / "docs" / "ai_act_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parts(page: str) -> tuple[str, str]:
    """(the generated table, the hand-written rest of the page)."""
    script = _script()
    head, _, rest = page.partition(script.START)
    generated, _, tail = rest.partition(script.END)
    return generated, head + tail


def _table_citations(generated: str) -> dict[str, list[Citation]]:
    """Each provision cell of the table, by field, as citations; a cell item that names no
    Article or Annex (e.g. "registry policy") is a note, not a citation."""
    cited = {}
    for line in generated.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        items = [item for item in cells[1].replace("\\|", "|").split(";") if item.strip()]
        for item in items:
            found = citations(item)
            assert found or not re.search(r"\d|\bArt|\bAnnex", item), (
                f"{cells[0]}: cannot read the provision {item.strip()!r}")
            cited.setdefault(cells[0], []).extend(found)
    return cited


def _normal(text: str) -> str:
    return " ".join(text.split())


def test_the_field_table_is_in_step_with_the_card_schema():
    script = _script()
    page = MAPPING.read_text(encoding="utf-8")
    table = script.table()
    assert script.updated(page, table) == page, (
        "docs/ai-act-mapping.md's field table is out of date: run python docs/ai_act_table.py")
    for path, _ in script.fields(script.load_schema()):
        assert f"| `{path}` |" in table


def test_the_table_script_escapes_cells_and_reads_conditions(tmp_path):
    """A `|` in a description stays in its cell, and a field required only for one value of
    another says so."""
    script = _script()
    schema = {
        "properties": {"eu_ai_act": {"properties": {
            "classification": {"enum": ["annex-iii", "out-of-scope"], "x-provision": "Art. 6",
                               "description": "annex-iii | out-of-scope. More text."},
            "annex_iii_point": {"x-provision": "Art. 6(2)", "description": "the point"}}}},
        "$defs": {"profiles": {
            "standard": {"required": []},
            "eu-ai-act-high-risk": {"required": ["eu_ai_act"], "properties": {"eu_ai_act": {
                "required": ["classification"],
                "allOf": [{"if": {"properties": {"classification": {"const": "annex-iii"}}},
                           "then": {"required": ["annex_iii_point"]}}]}}}}},
    }
    rows = script.table(schema).splitlines()
    assert rows[2] == ("| `eu_ai_act.classification` | Art. 6 | no | yes | "
                       "annex-iii \\| out-of-scope. |")
    assert rows[3] == ("| `eu_ai_act.annex_iii_point` | Art. 6(2) | no | when "
                       "`eu_ai_act.classification` is `annex-iii` | the point |")
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{script.START}\nold\n{script.END}\nrest\n", encoding="utf-8")
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema), encoding="utf-8")
    options = ["--mapping", str(page), "--schema", str(schema_file)]
    assert script.main(options + ["--check"]) == 1
    assert script.main(options) == 0
    assert script.main(options + ["--check"]) == 0
    assert page.read_text(encoding="utf-8").endswith(f"{script.END}\nrest\n")


def test_every_provision_the_table_cites_is_quoted_or_headed_in_the_hand_written_part():
    generated, written = _parts(MAPPING.read_text(encoding="utf-8"))
    cited = _table_citations(generated)
    assert sum(map(len, cited.values())) >= 20, "the field table cites almost no provision"
    named = [c for line in written.splitlines() if line.startswith("#")
             for c in citations(line)]
    quoted = [c for line in written.splitlines() if (m := _QUOTE.match(line))
              for c in citations(m["label"])]
    assert quoted, "the mapping quotes no provision"
    missing = sorted({f"{field}: {c}" for field, found in cited.items() for c in found
                      if not any(c.meets(other) for other in named + quoted)})
    assert not missing, ("provisions cited in the field table but neither quoted nor a "
                         "heading in docs/ai-act-mapping.md: " + "; ".join(missing))


# ------------------------------------------------------------------ the Regulation's text


def _excerpts() -> dict[tuple[str, str], list[str]]:
    """The excerpts, one list of lines per Article or Annex."""
    if not EXCERPTS.is_file():
        pytest.skip(f"the Regulation's excerpts are not at {EXCERPTS} (CI copies shared/ "
                    "beside the clone): quotations not checked")
    parts: dict[tuple[str, str], list[str]] = {}
    current = None
    for line in EXCERPTS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (Article|ANNEX) (\d+|[IVXL]+)\b", line)
        if heading:
            current = ("Art" if heading[1] == "Article" else "Annex", heading[2])
            parts[current] = []
        elif current and line.strip():
            parts[current].append(line.strip())
    return parts


def _span(parts: dict, citation: Citation) -> list[str] | None:
    """The lines of the excerpts that hold `citation`: from its deepest point to the end of
    its paragraph (Article) or point (Annex); None if the excerpts lack it."""
    lines = parts.get((citation.kind, citation.number))
    if lines is None:
        return None
    if citation.section:
        starts = [i for i, line in enumerate(lines)
                  if re.match(rf"Section {citation.section}\b", line)]
        if not starts:
            return None
        end = next((i for i, line in enumerate(lines)
                    if i > starts[0] and re.match(r"Section [A-Z0-9]\b", line)), len(lines))
        lines = lines[starts[0]:end]
    if not citation.path:
        return lines
    number, *points = citation.path
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{number}. ")), None)
    if start is None:
        return None
    end = next((i for i, line in enumerate(lines)
                if i > start and re.match(r"\d+\. ", line)), len(lines))
    for point in points:
        start = next((i for i in range(start, end) if lines[i].startswith(f"({point}) ")), None)
        if start is None:
            return None
    return lines[start:end]


def test_every_provision_the_table_cites_exists_in_the_regulation():
    parts = _excerpts()
    generated, _ = _parts(MAPPING.read_text(encoding="utf-8"))
    cited = _table_citations(generated)
    checked = [(field, c) for field, found in cited.items() for c in found
               if (c.kind, c.number) in parts]
    assert checked, "no cited provision is among the excerpts"
    unknown = sorted({f"{field}: {c}" for field, c in checked if _span(parts, c) is None})
    assert not unknown, "cited provisions the Regulation does not have: " + "; ".join(unknown)


def test_every_quotation_is_verbatim_from_the_provision_it_names():
    parts = _excerpts()
    _, written = _parts(MAPPING.read_text(encoding="utf-8"))
    quotes = [line for line in written.splitlines() if line.startswith(">")]
    assert len(quotes) >= 20, "the mapping has almost no quotation to check"
    wrong = []
    for line in quotes:
        match = _QUOTE.match(line)
        if not match:
            wrong.append(f'not a labelled quotation (> **provision**: "text"): {line[:80]}')
            continue
        named = citations(match["label"])
        span = _span(parts, named[0]) if named else None
        if span is None:
            wrong.append(f"{match['label']}: not a provision in the excerpts")
            continue
        text = _normal(" ".join(span))
        position = 0
        for fragment in (_normal(f) for f in match["text"].split("...")):
            found = text.find(fragment, position) if fragment else position
            if found < 0:
                wrong.append(f"{match['label']}: not in its text: {fragment[:80]!r}")
                break
            position = found + len(fragment)
    assert not wrong, "quotations that are not the Regulation's text:\n" + "\n".join(wrong)
