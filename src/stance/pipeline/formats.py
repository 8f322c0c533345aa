"""Input formats: what kind of bytes a file holds, and the text and metadata inside.

In: raw bytes or text of one input (plain text, Markdown, HTML). Out: the kind of input
(binary magic, sniffed suffix), the article text with header lines blanked (offsets kept),
HTML main text with its metadata, and ISO dates. Used by :mod:`.reading`, which streams
articles and problems; nothing here reads files.
"""

from __future__ import annotations

import bisect
import codecs
import io
import re
from datetime import date as _date
from typing import BinaryIO

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_HEADER_LINE = re.compile(
    r"^(?:date\s*[:=]?\s*(?P<date>\d{4}-\d{2}-\d{2})\s*"
    r"|(?P<key>title|source|url)\s*:\s*(?P<value>.+?)\s*)$",
    re.IGNORECASE,
)
_FINAL_PUNCT = tuple(".!?:;\"”’'")
_BINARY_MAGIC = {
    b"%PDF": "PDF",
    b"PK\x03\x04": "ZIP/Office",
    b"\x1f\x8b": "gzip",
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
}


def parse_date(value: object) -> str | None:
    """``YYYY-MM-DD`` (also the date part of an ISO timestamp), or None if not a date."""
    if value is None:
        return None
    m = _DATE.match(str(value).strip())
    if not m:
        return None
    try:
        return _date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def html_to_text(html: str) -> tuple[str, dict, str | None]:
    """Main text of an HTML page (paragraphs separated by blank lines), its metadata, and a
    note when the boilerplate-free extraction failed and all visible text was used instead.

    A page whose extracted text holds no prose (only a menu such as "Home World", or a
    copyright line) gives ``""``: it has no article to score. The date comes only from
    real date metadata (meta tags, JSON-LD ``datePublished``, ``<time datetime>``, a
    dated URL) or a dated line near the top of the text, never from a copyright year.
    """
    import trafilatura

    meta: dict = {}
    note = None
    try:
        doc = trafilatura.bare_extraction(
            html,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_recall=True,
            # htmldate's extensive search falls back to the copyright year of the footer.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception:  # trafilatura raises assorted lxml errors on broken markup
        doc = None
    text = ""
    if doc is not None:
        d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
        text = d.get("text") or ""
        meta = {
            "title": d.get("title"),
            "date": parse_date(d.get("date")),
            "url": d.get("url"),
            "source": d.get("sitename") or d.get("hostname"),
        }
    else:
        text = _visible_text(html)
        if text.strip():
            note = "main text not found in the HTML page: scored all its visible text"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _COPYRIGHT.search(ln)]
    # trafilatura repeats the <h1> headline as the first line: it is the title, not prose.
    if lines and meta.get("title") and lines[0] == meta["title"].strip():
        lines = lines[1:]
    if not any(_is_prose(ln) for ln in lines):
        return "", meta, None
    found = None if meta.get("date") else dated_line(lines)
    if found:
        meta["date"] = found
    return "\n\n".join(lines), meta, note


_COPYRIGHT = re.compile(r"^\W*(?:©|\(c\)|copyright\b)|\ball rights reserved\b", re.IGNORECASE)
_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for m in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DATED_LINE = [
    re.compile(r"(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})"),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)? {_MONTH},? (?P<year>\d{{4}})\b"),
    re.compile(rf"\b{_MONTH} (?P<day>\d{{1,2}})(?:st|nd|rd|th)?,? (?P<year>\d{{4}})\b"),
]
_DATE_LINE_CHARS = 120  # a byline or dateline, not a sentence that mentions a date
_DATE_LINES = 5  # only near the top: a date further down is about something else


def dated_line(lines: list[str]) -> str | None:
    """The date of a short dated line near the top ("Published 4 August 2025", "By X ·
    15 December 2025", "2025-08-04"), or None. Only full dates count: a year alone does not."""
    for line in lines[:_DATE_LINES]:
        if len(line) > _DATE_LINE_CHARS or _COPYRIGHT.search(line):
            continue
        for pattern in _DATED_LINE:
            m = pattern.search(line)
            if not m:
                continue
            month = int(m["mon"]) if "mon" in m.groupdict() else _MONTHS.get(m["month"].lower())
            if month is None:
                continue
            found = parse_date(f"{m['year']}-{month:02d}-{int(m['day']):02d}")
            if found:
                return found
    return None


def _is_prose(line: str) -> bool:
    """A line of running text, not a menu ("Home World Politics") or a label: words, some
    of them lower-case, and a sentence end or enough of them."""
    words = line.split()
    lower = sum(1 for w in words if w[:1].islower())
    return (len(words) >= 2 and lower >= 1 and line.endswith(_FINAL_PUNCT)) or (len(words) >= 4 and lower >= 2)


def _visible_text(html: str) -> str:
    from html.parser import HTMLParser

    skip = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template"}
    blocks = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "section",
        "article",
        "tr",
        "blockquote",
    }

    class _Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.depth, self.parts = 0, []

        def handle_starttag(self, tag, attrs):
            if tag in skip:
                self.depth += 1
            elif tag in blocks:
                self.parts.append("\n")

        def handle_endtag(self, tag):
            if tag in skip and self.depth:
                self.depth -= 1
            elif tag in blocks:
                self.parts.append("\n")

        def handle_data(self, data):
            if not self.depth:
                self.parts.append(data)

    parser = _Text()
    parser.feed(html)
    return "\n".join(" ".join(ln.split()) for ln in "".join(parser.parts).splitlines())


# Characters that print as nothing but split words for spaCy and the actor matcher:
# zero-width space/joiners, word joiner, invisible operators, BOM, soft hyphen, bidi marks.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Spaces and line breaks spaCy does not treat as such; replaced one for one (offsets hold).
_ODD_SPACES = str.maketrans(
    {
        **dict.fromkeys(
            "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
        ),
        "\u2028": "\n",
        "\u2029": "\n",
    }
)


def remove_invisible(text: str) -> tuple[str, list[int]]:
    """The text without invisible characters, and where they were.

    A zero-width space between two letters becomes a space (it separates words there);
    every other invisible character is dropped. The second value lists, for each dropped
    character, the offset in the returned text where it stood, so
    :func:`source_offset` maps an offset of the returned text back to the input.
    """
    text = text.translate(_ODD_SPACES)
    if not _INVISIBLE.search(text):
        return text, []
    parts, gaps, pos = [], [], 0
    out_len = 0
    for m in _INVISIBLE.finditer(text):
        i = m.start()
        parts.append(text[pos:i])
        out_len += i - pos
        pos = i + 1
        if text[i] == "\u200b" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
            parts.append(" ")
            out_len += 1
        else:
            gaps.append(out_len)
    parts.append(text[pos:])
    return "".join(parts), gaps


def source_offset(gaps: list[int], offset: int, end: bool = False) -> int:
    """An offset of the text :func:`remove_invisible` returned, as an offset of its input.

    A start offset skips the invisible characters before it; an end offset stops short of
    those right after the last character.
    """
    if not gaps:
        return offset
    return offset + (bisect.bisect_left(gaps, offset) if end else bisect.bisect_right(gaps, offset))


def strip_header(text: str, markdown: bool) -> tuple[str, dict]:
    """Blank leading metadata lines (``date 2025-03-04``, ``title: ...``, Markdown front
    matter) and a title line; offsets of the remaining text do not move."""
    meta: dict = {}
    pos, n = 0, len(text)
    in_front = False
    while pos < n:
        end = text.find("\n", pos)
        end = n if end < 0 else end
        line = text[pos:end].strip()
        if not line:
            pass
        elif line == "---" and (in_front or not meta):
            in_front = not in_front
        else:
            m = _HEADER_LINE.match(line)
            if not m and not in_front:
                break
            if m and m["date"]:
                meta["date"] = parse_date(m["date"])
            elif m:
                meta[m["key"].lower()] = m["value"]
        pos = end + 1
    pos = min(pos, n)
    # A first line without final punctuation followed by a blank line is a headline:
    # kept as the title, not scored as prose (the model never saw headlines).
    rest = text[pos:]
    first_nl = rest.find("\n")
    if first_nl > 0:
        first = rest[:first_nl].strip()
        after = rest[first_nl + 1 :]
        heading = markdown and first.startswith("#")
        blank_follows = after.lstrip(" \t\r").startswith("\n") or not after.strip()
        if first and (heading or (blank_follows and len(first) <= 200 and not first.endswith(_FINAL_PUNCT))):
            meta.setdefault("title", first.lstrip("#").strip())
            pos += first_nl
    if pos:
        text = re.sub(r"[^\n]", " ", text[:pos]) + text[pos:]
    return text, meta


_MD_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])\s|\*\*|__|`")


def blank_markdown(text: str) -> str:
    """Blank heading, quote and list markers and emphasis with spaces (offsets stay put)."""
    return "\n".join(_MD_MARKUP.sub(lambda m: " " * len(m.group(0)), line) for line in text.split("\n"))


def binary_kind(head: bytes) -> str | None:
    for magic, kind in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "contains NUL bytes"
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return "control characters" if head and control / len(head) > 0.1 else None


def sniff_suffix(head: bytes) -> str:
    start = head.lstrip()[:200].lower()
    if start.startswith(b"{"):
        return ".jsonl"
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"<article")):
        return ".html"
    return ".txt"


def replacing_decoder(decoder: codecs.IncrementalDecoder) -> codecs.IncrementalDecoder:
    fresh = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    state = decoder.getstate()
    fresh.setstate(state)
    return fresh


class Prepended(io.RawIOBase):
    """A byte stream with an already-read first line put back in front (stdin sniffing)."""

    def __init__(self, first: bytes, rest: BinaryIO):
        self._buf, self._rest = first, rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._buf:
            if size is None or size < 0:
                out, self._buf = self._buf + self._rest.read(), b""
                return out
            out, self._buf = self._buf[:size], self._buf[size:]
            return out
        return self._rest.read(size) if size is not None and size >= 0 else self._rest.read()

    def readline(self, size: int = -1) -> bytes:
        if self._buf:
            out, self._buf = self._buf, b""
            return out
        return self._rest.readline()

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line
