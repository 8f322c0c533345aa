"""Read articles: plain text, Markdown, HTML, JSONL corpora, folders and stdin.

In: paths as the user typed them (``"-"`` is stdin). Out: a stream of :class:`Article`
records interleaved with :class:`InputProblem` records, in input order. One bad input
never stops the others; ``strict=True`` raises :class:`InputError` at the first error.

Nothing is read whole: JSONL corpora stream line by line and a text file is read up to
``max_chars`` characters (longer files are cut with a warning), so memory stays flat.
Character offsets found later refer to :attr:`Article.text`; header lines (``date
2025-03-04``, a title line) are blanked with spaces rather than removed, so offsets in a
text file are offsets in the file.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date as _date
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..config import MAX_CHARS
from ..errors import Problem, StanceError, first_error

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
_SNIFF_BYTES = 8192
_BINARY_MAGIC = {
    b"%PDF": "PDF",
    b"PK\x03\x04": "ZIP/Office",
    b"\x1f\x8b": "gzip",
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
}
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_HEADER_LINE = re.compile(
    r"^(?:date\s*[:=]?\s*(?P<date>\d{4}-\d{2}-\d{2})\s*"
    r"|(?P<key>title|source|url)\s*:\s*(?P<value>.+?)\s*)$",
    re.IGNORECASE,
)
_FINAL_PUNCT = tuple(".!?:;\"”’'")


@dataclass
class Article:
    """One article to score. ``id`` names it in every output (JSONL ``id`` or file path)."""

    id: str
    text: str
    title: str = ""
    date: str | None = None
    source: str = ""
    url: str = ""
    origin: str = ""  # file[:line] it came from, for messages

    def __post_init__(self) -> None:
        self.origin = self.origin or self.id


@dataclass(frozen=True)
class InputProblem(Problem):
    """A problem with one input. ``error``: it was not scored; ``warning``: scored anyway."""

    level: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.level}: {self.message}"


class InputError(StanceError):
    """An input error made fatal by ``--strict``."""

    def __init__(self, problem: InputProblem):
        self.problem = problem
        super().__init__(f"{str(problem).removesuffix('; skipped')} (stopped: --strict)")


class _Record(BaseModel):
    """One JSONL corpus line, validated at the edge."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    text: str
    id: str | None = None
    title: str | None = ""
    date: str | None = None
    source: str | None = ""
    url: str | None = ""

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("'text' is empty")
        return v


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


def read_inputs(
    paths: Iterable[str | Path],
    *,
    date: str | None = None,
    strict: bool = False,
    max_chars: int = MAX_CHARS,
    stdin: BinaryIO | None = None,
) -> Iterator[Article | InputProblem]:
    """Every article of every input, with a problem record for each fault found.

    ``date`` fills in the date of articles that carry none (metadata and ``date`` lines
    win). ``stdin`` replaces ``sys.stdin.buffer`` for ``"-"`` (tests).
    """
    if date is not None and parse_date(date) is None:
        raise StanceError(f"--date {date!r} is not a date: use YYYY-MM-DD")
    reader = _Reader(date=parse_date(date), max_chars=max_chars, stdin=stdin)
    for raw in paths:
        for item in reader.read_path(str(raw)):
            if strict and isinstance(item, InputProblem) and item.level == "error":
                raise InputError(item)
            yield item


def read_text(
    text: str,
    *,
    id: str = "text",
    date: str | None = None,
    title: str = "",
    max_chars: int = MAX_CHARS,
) -> tuple[Article | None, list[InputProblem]]:
    """An in-memory string as an article (the ``score_article`` entry point)."""
    reader = _Reader(date=parse_date(date), max_chars=max_chars)
    items = list(reader.text_articles(id, text[: max_chars + 1], markdown=False))
    articles = [i for i in items if isinstance(i, Article)]
    article = articles[0] if articles else None
    if article is not None and title and not article.title:
        article.title = title
    return article, [i for i in items if isinstance(i, InputProblem)]


class _Reader:
    def __init__(self, date: str | None, max_chars: int, stdin: BinaryIO | None = None):
        self.date = date
        self.max_chars = max_chars
        self.stdin = stdin

    # -- dispatch ---------------------------------------------------------------------
    def read_path(self, raw: str) -> Iterator[Article | InputProblem]:
        if raw == "-":
            yield from self.read_stdin()
            return
        path = Path(raw)
        if not path.exists():
            yield InputProblem(raw, 0, "no such file or folder: check the path")
        elif path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                yield InputProblem(raw, 0, "folder holds no .txt, .md, .html or .jsonl files")
            for f in files:
                yield from self.read_file(f)
        else:
            yield from self.read_file(path)

    def read_file(self, path: Path) -> Iterator[Article | InputProblem]:
        name = str(path)
        try:
            with path.open("rb") as fh:
                head = fh.read(_SNIFF_BYTES)
                if not head.strip():
                    yield InputProblem(name, 0, "empty file: nothing to score")
                    return
                kind = _binary_kind(head)
                if kind:
                    yield InputProblem(
                        name, 0, f"binary file ({kind}): pass plain text, HTML or JSONL"
                    )
                    return
                fh.seek(0)
                suffix = path.suffix.lower()
                if suffix not in SUPPORTED:
                    suffix = _sniff_suffix(head)
                if suffix in JSONL_SUFFIXES:
                    yield from self.jsonl_articles(name, fh)
                elif suffix in HTML_SUFFIXES:
                    yield from self.html_articles(name, fh)
                else:
                    text, problems = self._decode(name, fh, self.max_chars + 1)
                    yield from problems
                    yield from self.text_articles(
                        name,
                        text,
                        markdown=suffix in {".md", ".markdown"},
                        size=path.stat().st_size,
                    )
        except OSError as exc:
            yield InputProblem(name, 0, f"cannot read: {exc.strerror or exc}")

    def read_stdin(self) -> Iterator[Article | InputProblem]:
        stream = self.stdin if self.stdin is not None else sys.stdin.buffer
        first = stream.readline()
        while first and not first.strip():
            first = stream.readline()
        if not first:
            yield InputProblem("<stdin>", 0, "empty input: nothing to score")
            return
        kind = _binary_kind(first[:_SNIFF_BYTES])
        if kind:
            yield InputProblem(
                "<stdin>", 0, f"binary input ({kind}): pass plain text, HTML or JSONL"
            )
            return
        joined = _Prepended(first, stream)
        suffix = _sniff_suffix(first)
        if suffix in JSONL_SUFFIXES:
            yield from self.jsonl_articles("<stdin>", joined)
        elif suffix in HTML_SUFFIXES:
            yield from self.html_articles("<stdin>", joined)
        else:
            text, problems = self._decode("<stdin>", joined, self.max_chars + 1)
            yield from problems
            yield from self.text_articles("<stdin>", text, markdown=False)

    # -- formats ----------------------------------------------------------------------
    def _decode(self, name: str, fh: BinaryIO, limit: int) -> tuple[str, list[InputProblem]]:
        """Up to ``limit`` characters of UTF-8; invalid bytes become U+FFFD with a warning."""
        decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        chunks, n, bad = [], 0, False
        while n < limit:
            block = fh.read(1 << 16)
            if not block:
                break
            try:
                part = decoder.decode(block)
            except UnicodeDecodeError:
                bad = True
                decoder = _replacing(decoder)
                part = decoder.decode(block)
            chunks.append(part)
            n += len(part)
        text = "".join(chunks)[:limit]
        problems = []
        if bad:
            problems.append(
                InputProblem(
                    name,
                    0,
                    "not valid UTF-8: decoded with replacement characters "
                    f"({text.count(chr(0xFFFD))} replaced); re-save it as UTF-8",
                    "warning",
                )
            )
        return text, problems

    def _cut(self, name: str, text: str, size: int | None = None) -> tuple[str, list[InputProblem]]:
        if len(text) <= self.max_chars:
            return text, []
        # Cut at a paragraph or sentence end near the limit, not mid-word.
        cut = max(text.rfind("\n", 0, self.max_chars), text.rfind(". ", 0, self.max_chars) + 1)
        cut = cut if cut > self.max_chars // 2 else self.max_chars
        how_big = f"{size / 1e6:.1f} MB" if size else f"more than {self.max_chars:,} characters"
        return text[:cut], [
            InputProblem(
                name,
                0,
                f"too long for one article ({how_big}): scored the first {cut:,} characters; "
                "split it into articles (one per file, or a JSONL corpus) to score the rest",
                "warning",
            )
        ]

    def text_articles(
        self, name: str, text: str, markdown: bool, size: int | None = None
    ) -> Iterator[Article | InputProblem]:
        text, problems = self._cut(name, text, size)
        yield from problems
        text, meta = _strip_header(text, markdown)
        if not text.strip():
            yield InputProblem(name, 0, "no text after the header lines: nothing to score")
            return
        if markdown:
            text = _blank_markdown(text)
        yield Article(
            id=name,
            text=text,
            title=meta.get("title", ""),
            date=meta.get("date") or self.date,
            source=meta.get("source", ""),
            url=meta.get("url", ""),
            origin=name,
        )

    def html_articles(self, name: str, fh: BinaryIO) -> Iterator[Article | InputProblem]:
        # Markup is several times the size of its text, so allow more bytes than characters.
        raw, problems = self._decode(name, fh, self.max_chars * 8)
        yield from problems
        text, meta, problem = html_to_text(raw)
        if problem:
            yield InputProblem(name, 0, problem, "warning" if text.strip() else "error")
        if not text.strip():
            if not problem:
                yield InputProblem(name, 0, "no article text found in the HTML page")
            return
        text, cut = self._cut(name, text)
        yield from cut
        yield Article(
            id=name,
            text=text,
            title=meta.get("title") or "",
            date=meta.get("date") or self.date,
            source=meta.get("source") or "",
            url=meta.get("url") or "",
            origin=name,
        )

    def jsonl_articles(self, name: str, fh: BinaryIO) -> Iterator[Article | InputProblem]:
        warned = False
        for line_no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                if not warned:
                    warned = True
                    yield InputProblem(
                        name,
                        line_no,
                        "not valid UTF-8: decoded with replacement "
                        "characters; re-save the file as UTF-8",
                        "warning",
                    )
            where = f"{name}:{line_no}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield InputProblem(
                    name,
                    line_no,
                    f"invalid JSON ({exc.msg}, column {exc.colno}): "
                    "fix or remove the line; skipped",
                )
                continue
            if not isinstance(obj, dict):
                yield InputProblem(
                    name, line_no, "expected a JSON object with a 'text' field; skipped"
                )
                continue
            try:
                rec = _Record.model_validate(obj)
            except ValidationError as exc:
                yield InputProblem(name, line_no, f"{first_error(exc)}; skipped")
                continue
            art_date = parse_date(rec.date)
            if rec.date and art_date is None:
                yield InputProblem(
                    name, line_no, f"date {rec.date!r} is not YYYY-MM-DD: ignored", "warning"
                )
            text, cut = self._cut(where, rec.text)
            yield from cut
            yield Article(
                id=rec.id or where,
                text=text,
                title=rec.title or "",
                date=art_date or self.date,
                source=rec.source or "",
                url=rec.url or "",
                origin=where,
            )


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


def _strip_header(text: str, markdown: bool) -> tuple[str, dict]:
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
        if first and (
            heading or (blank_follows and len(first) <= 200 and not first.endswith(_FINAL_PUNCT))
        ):
            meta.setdefault("title", first.lstrip("#").strip())
            pos += first_nl
    if pos:
        text = re.sub(r"[^\n]", " ", text[:pos]) + text[pos:]
    return text, meta


_MD_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])\s|\*\*|__|`")


def _blank_markdown(text: str) -> str:
    """Blank heading, quote and list markers and emphasis with spaces (offsets stay put)."""
    return "\n".join(
        _MD_MARKUP.sub(lambda m: " " * len(m.group(0)), line) for line in text.split("\n")
    )


def _binary_kind(head: bytes) -> str | None:
    for magic, kind in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "contains NUL bytes"
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return "control characters" if head and control / len(head) > 0.1 else None


def _sniff_suffix(head: bytes) -> str:
    start = head.lstrip()[:200].lower()
    if start.startswith(b"{"):
        return ".jsonl"
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"<article")):
        return ".html"
    return ".txt"


def _replacing(decoder: codecs.IncrementalDecoder) -> codecs.IncrementalDecoder:
    fresh = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    state = decoder.getstate()
    fresh.setstate(state)
    return fresh


class _Prepended(io.RawIOBase):
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
