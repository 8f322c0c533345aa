"""Split articles into sentences with spaCy.

In: :class:`~stance.reading.Article` records. Out: per article, a list of
:class:`Sentence` records (index, text, character offsets into ``Article.text``,
paragraph index) that carry their parsed spaCy span for the actor and attribution stages.

Each paragraph is parsed as its own doc, the paragraphs of a batch of articles through
``nlp.pipe`` in calls of bounded size: a sentence never straddles a paragraph, and a huge
text is parsed in bounded pieces rather than as one doc (spaCy's parser needs memory in
proportion). No sentence is longer than ``MAX_SENTENCE_CHARS``: a longer stretch without a
sentence end is cut at spaces before parsing (an unpunctuated text would otherwise be one
20,000-character sentence per piece).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import DEFAULT_SPACY_MODEL, MAX_SENTENCE_CHARS, SPACY_MODEL
from ..errors import StanceError

MAX_PARAGRAPH_CHARS = 20_000
# One-line-per-paragraph text has long lines; hard-wrapped text has short ones.
_WRAPPED_LINE = 120
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_HAS_WORD = re.compile(r"\w")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s|$)")
# Characters parsed per nlp.pipe call: the parser's memory grows with the text in flight.
_PIPE_CHARS = 100_000

_nlp = None
_nlp_name = ""


@dataclass
class Sentence:
    """One sentence of an article; ``start``/``end`` are offsets into ``Article.text``.

    Later stages fill in what they find: ``holders`` (attribution) and ``topics``, the
    probability of each topic (topic detection).
    """

    index: int
    text: str
    start: int
    end: int
    paragraph: int
    span: Any = field(default=None, repr=False, compare=False)  # spaCy Span (tokens, parse, entities)
    holders: list = field(default_factory=list)  # list[attribution.Holder]
    topics: dict[str, float] = field(default_factory=dict)

    @property
    def doc_offset(self) -> int:
        """Article offset of the paragraph doc the span belongs to."""
        return self.start - self.span.start_char if self.span is not None else 0


def load_nlp(name: str | None = None):
    """The spaCy pipeline, loaded once per process (tagger, parser, lemmatizer, NER).

    ``name``: an installed pipeline other than the configured one (a logged pipeline model
    names the one it was built with)."""
    global _nlp, _nlp_name
    name = name or SPACY_MODEL
    if _nlp is None or _nlp_name != name:
        spacy = import_spacy()
        try:
            # senter is redundant with the parser, which also gives the sentence bounds. The
            # default pipeline's saved tokenizer is spaCy's English one, which the language
            # already builds (a test checks they are equal): reading it again costs ~0.3 s.
            skip = ["tokenizer"] if name == DEFAULT_SPACY_MODEL else []
            nlp = spacy.load(name, exclude=["senter", *skip])
        except OSError as exc:
            raise StanceError(
                f"spaCy model {name!r} is not installed: run `make install` "
                "or set STANCE_SPACY_MODEL to an installed English model"
            ) from exc
        from .attribute_index import index_attribute_ruler

        index_attribute_ruler(nlp)  # the same annotations, a third less parsing time
        # "wrote on X." ends a sentence in news (X the platform); spaCy reads "X." as an initial.
        nlp.tokenizer.add_special_case("X.", [{"ORTH": "X"}, {"ORTH": "."}])
        _nlp, _nlp_name = nlp, name
    return _nlp


def import_spacy():
    """spaCy, imported without torch where torch is not loaded yet.

    thinc (spaCy's layer library) imports torch at start-up when it is installed, only to
    offer PyTorch wrappers that the small English pipeline never uses: about a second of
    every cold start. Blocking the import for that moment leaves torch importable later.
    """
    import sys

    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # `import torch` raises ImportError: thinc takes its no-torch path
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


def paragraphs(text: str, max_chars: int = MAX_PARAGRAPH_CHARS) -> list[tuple[int, str]]:
    """(start offset, text) of each paragraph, whitespace-trimmed, long ones cut in pieces.

    Paragraphs are separated by blank lines; inside a block, hard-wrapped lines are joined
    with spaces (same length, so offsets hold), while long lines are paragraphs of their own.
    Pieces of one over-long paragraph keep its index in :func:`paragraph_pieces`.
    """
    return [(s, t) for s, t, _ in paragraph_pieces(text, max_chars)]


def paragraph_pieces(
    text: str, max_chars: int = MAX_PARAGRAPH_CHARS, max_sentence: int = MAX_SENTENCE_CHARS
) -> list[tuple[int, str, int]]:
    out: list[tuple[int, str, int]] = []
    pos, para = 0, 0
    for m in [*_BLANK_LINE.finditer(text), None]:
        end = m.start() if m else len(text)
        block = text[pos:end]
        lines = block.split("\n")
        if len(lines) > 1 and max(len(ln) for ln in lines) > _WRAPPED_LINE:
            parts, off = [], pos
            for ln in lines:
                parts.append((off, ln))
                off += len(ln) + 1
        else:
            parts = [(pos, block.replace("\r", " ").replace("\n", " "))]
        for start, chunk in parts:
            stripped = chunk.strip()
            if not _HAS_WORD.search(stripped):
                continue
            start += len(chunk) - len(chunk.lstrip())
            for piece_start, piece in _cut(stripped, max_chars):
                for run_start, run in cap_runs(piece, max_sentence):
                    out.append((start + piece_start + run_start, run, para))
            para += 1
        pos = m.end() if m else len(text)
    return out


def _cut(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Pieces of at most ``max_chars``, cut after a sentence end or at a space if possible."""
    pieces, pos = [], 0
    while len(text) - pos > max_chars:
        window = text[pos : pos + max_chars]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        cut = cut + 1 if cut > max_chars // 2 else window.rfind(" ")
        cut = cut if cut > max_chars // 2 else max_chars
        pieces.append((pos, text[pos : pos + cut]))
        pos += cut
        while pos < len(text) and text[pos] == " ":
            pos += 1
    if pos < len(text):
        pieces.append((pos, text[pos:]))
    return pieces


def cap_runs(text: str, cap: int = MAX_SENTENCE_CHARS) -> list[tuple[int, str]]:
    """(offset, piece) of ``text`` such that no stretch without a sentence end is longer
    than ``cap``: such stretches are cut at a space (or hard at ``cap``). Each piece is
    parsed as its own doc, so the cut is a sentence boundary."""
    if len(text) <= cap:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = run = 0  # start of the current piece; start of the current run
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.end() if m else len(text)
        while end - run > cap:
            cut = text.rfind(" ", run + cap // 2, run + cap + 1)
            cut = cut if cut > run else run + cap
            pieces.append((start, text[start:cut]))
            start = cut
            while start < len(text) and text[start].isspace():
                start += 1
            run = start
        run = max(run, end)
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


def segment(texts: Sequence[str], nlp=None, batch_size: int = 128, entities: bool = False) -> list[list[Sentence]]:
    """Sentences of each text, in order; their paragraphs go through ``nlp.pipe`` together.

    ``entities=False`` leaves out the entity recogniser, the costliest component; the
    actor stage runs it on the paragraphs that need it (:meth:`ActorIndex.recognise`).
    """
    nlp = nlp or load_nlp()
    jobs, pieces = text_pieces(texts)
    docs = _pipe(nlp, pieces, batch_size, disable=[] if entities else ["ner"])
    return sentences_from(len(texts), jobs, docs)


def text_pieces(texts: Sequence[str]) -> tuple[list[tuple[int, int, int]], list[str]]:
    """(text number, start offset, paragraph) of each paragraph piece, and the pieces."""
    jobs, pieces = [], []
    for i, text in enumerate(texts):
        for start, piece, para in paragraph_pieces(text):
            jobs.append((i, start, para))
            pieces.append(piece)
    return jobs, pieces


def sentences_from(n_texts: int, jobs: Sequence[tuple[int, int, int]], docs) -> list[list[Sentence]]:
    """The sentences of ``n_texts`` texts from the parsed docs of their pieces (``jobs`` order)."""
    result: list[list[Sentence]] = [[] for _ in range(n_texts)]
    for (i, start, para), doc in zip(jobs, docs, strict=True):
        sentences = result[i]
        for span in doc.sents:
            for sent in _capped(_trim(span)):
                if not _HAS_WORD.search(sent.text):
                    continue
                sentences.append(
                    Sentence(
                        index=len(sentences),
                        text=sent.text,
                        start=start + sent.start_char,
                        end=start + sent.end_char,
                        paragraph=para,
                        span=sent,
                    )
                )
    return result


def _pipe(nlp, pieces: list[str], batch_size: int, disable: list[str]):
    """``nlp.pipe`` over the pieces, in calls of at most ``_PIPE_CHARS`` characters."""
    group: list[str] = []
    size = 0
    for piece in [*pieces, None]:
        if piece is None or (group and size + len(piece) > _PIPE_CHARS):
            yield from nlp.pipe(group, batch_size=batch_size, disable=disable)
            group, size = [], 0
        if piece is not None:
            group.append(piece)
            size += len(piece)


def _capped(span, cap: int = MAX_SENTENCE_CHARS) -> list:
    """The span, or token runs of at most ``cap`` characters where the parser made a
    longer sentence (spaCy may join what :func:`cap_runs` kept apart)."""
    if span is None:
        return []
    if len(span.text) <= cap:
        return [span]
    out, first = [], span.start
    doc = span.doc
    for tok in span:
        if tok.i > first and tok.idx + len(tok.text) - doc[first].idx > cap:
            out.append(doc[first : tok.i])
            first = tok.i
    out.append(doc[first : span.end])
    return [s for s in (_trim(s) for s in out) if s is not None]


def _trim(span):
    """The span without leading/trailing whitespace tokens (None if nothing is left)."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and doc[start].is_space:
        start += 1
    while end > start and doc[end - 1].is_space:
        end -= 1
    return doc[start:end] if end > start else None
