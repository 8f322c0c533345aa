"""Read articles: plain text, Markdown, HTML, JSONL corpora, folders and stdin.

In: paths as the user typed them (``"-"`` is stdin). Out: a stream of :class:`Article`
records interleaved with :class:`InputProblem` records, in input order. One bad input
never stops the others; ``strict=True`` raises :class:`InputError` at the first error.

Nothing is read whole: JSONL corpora stream line by line and a text file is read up to
``max_chars`` characters (longer files are cut with a warning), so memory stays flat.
Character offsets found later refer to :attr:`Article.text`; header lines (``date
2025-03-04``, a title line) are blanked with spaces rather than removed, so offsets in a
text file are offsets in the file. Invisible characters (zero-width, soft hyphens, bidi
marks) are dropped, and :meth:`Article.source_offset` maps an offset back to the input as
given. A JSONL id used twice is an error for the second line: outputs name articles by id,
so two articles with one id would be merged.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..config import MAX_CHARS
from ..errors import Problem, StanceError, first_error
from .formats import (
    Prepended,
    binary_kind,
    blank_markdown,
    html_to_text,
    parse_date,
    remove_invisible,
    replacing_decoder,
    sniff_suffix,
    source_offset,
    strip_header,
)

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
_SNIFF_BYTES = 8192


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
    # Offsets in ``text`` where invisible characters of the input were dropped (see
    # :func:`~.formats.remove_invisible`); empty when the text is the input as given.
    gaps: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.origin = self.origin or self.id

    def source_offset(self, offset: int, end: bool = False) -> int:
        """An offset into :attr:`text` as an offset into the input as the user gave it."""
        return source_offset(self.gaps, offset, end)


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

    @field_validator("text", mode="before")
    @classmethod
    def _a_string(cls, v):
        # Ids may be numbers, text may not: a number there is a wrong column, not an article.
        if v is not None and not isinstance(v, str):
            raise ValueError(f"'text' is {_json_kind(v)}, not article text: put the article's text in 'text'")
        return v

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("'text' is empty")
        return v


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


def read_records(
    records: Iterable[dict], name: str, *, date: str | None = None, max_chars: int = MAX_CHARS
) -> Iterator[tuple[int, Article | InputProblem]]:
    """Articles from records that are already parsed (a served request, a Spark batch),
    validated as JSONL corpus lines are, each with its row number; every record needs its
    own ``id``. Problems name the record by its id (or its row number when it has none)."""
    reader = _Reader(date=parse_date(date), max_chars=max_chars)
    for n, obj in enumerate(records):
        rid = obj.get("id")
        label = f"{name} article {rid}" if isinstance(rid, str) and rid.strip() else f"{name} row {n}"
        for item in reader.record_article(obj, label, 0, id_required=True):
            yield n, item


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


def _json_kind(v: object) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return f"a number ({v})"
    return {list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


class _Reader:
    def __init__(self, date: str | None, max_chars: int, stdin: BinaryIO | None = None):
        self.date = date
        self.max_chars = max_chars
        self.stdin = stdin
        # JSONL id → file:line of its first article: every output names articles by id,
        # so two articles with one id would be merged into one.
        self.ids: dict[str, str] = {}
        self.files: set[Path] = set()  # files read so far (a folder and a file in it overlap)

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
        resolved = path.resolve()
        if resolved in self.files:
            yield InputProblem(name, 0, "given twice (by itself and in a folder?): read once", "warning")
            return
        self.files.add(resolved)
        try:
            with path.open("rb") as fh:
                head = fh.read(_SNIFF_BYTES)
                if not head.strip():
                    yield InputProblem(name, 0, "empty file: nothing to score")
                    return
                kind = binary_kind(head)
                if kind:
                    yield InputProblem(name, 0, f"binary file ({kind}): pass plain text, HTML or JSONL")
                    return
                fh.seek(0)
                suffix = path.suffix.lower()
                if suffix not in SUPPORTED:
                    suffix = sniff_suffix(head)
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
        kind = binary_kind(first[:_SNIFF_BYTES])
        if kind:
            yield InputProblem("<stdin>", 0, f"binary input ({kind}): pass plain text, HTML or JSONL")
            return
        joined = Prepended(first, stream)
        suffix = sniff_suffix(first)
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
                decoder = replacing_decoder(decoder)
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
        # Before the header is read: "Headline.\u200e" is a sentence, not a title.
        text, gaps = remove_invisible(text)
        text, meta = strip_header(text, markdown)
        if not text.strip():
            yield InputProblem(name, 0, "no text after the header lines: nothing to score")
            return
        if markdown:
            text = blank_markdown(text)
        yield _article(
            id=name,
            text=text,
            gaps=gaps,
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
                yield InputProblem(
                    name,
                    0,
                    "no article text found in the HTML page (only navigation or boilerplate): "
                    "pass the article's own page, or its text",
                )
            return
        text, cut = self._cut(name, text)
        yield from cut
        yield _article(
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
                        "not valid UTF-8: decoded with replacement characters; re-save the file as UTF-8",
                        "warning",
                    )
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield InputProblem(
                    name,
                    line_no,
                    f"invalid JSON ({exc.msg}, column {exc.colno}): fix or remove the line; skipped",
                )
                continue
            if not isinstance(obj, dict):
                yield InputProblem(name, line_no, "expected a JSON object with a 'text' field; skipped")
                continue
            yield from self.record_article(obj, name, line_no)

    def record_article(self, obj: dict, name: str, line_no: int, id_required: bool = False):
        """One corpus record (a JSONL line, a served request row, a Spark row) as an article."""
        where = f"{name}:{line_no}" if line_no else name
        try:
            rec = _Record.model_validate(obj)
        except ValidationError as exc:
            yield InputProblem(name, line_no, f"{first_error(exc)}; skipped")
            return
        if id_required and not (rec.id or "").strip():
            yield InputProblem(name, line_no, "missing 'id' field; skipped")
            return
        if rec.id:  # without an id the article is called file:line, which is unique
            first = self.ids.setdefault(rec.id, where)
            if first != where:
                at = f"line {first.rsplit(':', 1)[1]}" if first.rsplit(":", 1)[0] == name else first
                yield InputProblem(
                    name,
                    line_no,
                    f"duplicate article id {rec.id!r} (first at {at}); give each article a unique id; skipped",
                )
                return
        art_date = parse_date(rec.date)
        if rec.date and art_date is None:
            yield InputProblem(name, line_no, f"date {rec.date!r} is not YYYY-MM-DD: ignored", "warning")
        text, cut = self._cut(where, rec.text)
        yield from cut
        yield _article(
            id=rec.id or where,
            text=text,
            title=rec.title or "",
            date=art_date or self.date,
            source=rec.source or "",
            url=rec.url or "",
            origin=where,
        )


def _article(**fields) -> Article:
    """An :class:`Article` with invisible characters dropped from its text and title; the
    article remembers where, so offsets still point into the input as given."""
    if "gaps" not in fields:
        fields["text"], fields["gaps"] = remove_invisible(fields["text"])
    fields["title"] = remove_invisible(fields.get("title") or "")[0].strip()
    return Article(**fields)
