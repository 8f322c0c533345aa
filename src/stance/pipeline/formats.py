"""Input formats: what kind of bytes a file holds, and the text and metadata inside.

In: raw bytes or text of one input (plain text, Markdown, HTML). Out: the kind of input
(binary magic, sniffed suffix), the article text with header lines blanked (offsets kept),
HTML main text with its metadata, and ISO dates. Used by :mod:`.reading`, which streams
articles and problems; nothing here reads files.
"""

from __future__ import annotations

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
    note when the boilerplate-free extraction failed and all visible text was used instead."""
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
    if not text.strip():
        text = _visible_text(html)
        if text.strip():
            note = "main text not found in the HTML page: scored all its visible text"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # trafilatura repeats the <h1> headline as the first line: it is the title, not prose.
    if lines and meta.get("title") and lines[0] == meta["title"].strip():
        lines = lines[1:]
    return "\n\n".join(lines), meta, note


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
