"""Segmentation: paragraphs, sentences, offsets into the article text."""

from __future__ import annotations

import pytest

from stance.errors import StanceError
from stance.pipeline import segmentation
from stance.pipeline.segmentation import load_nlp, paragraph_pieces, paragraphs, segment


def test_paragraphs_blank_lines_and_wrapped_lines():
    text = "First line of a\nwrapped paragraph.\n\n  Second paragraph.  \n\n\n\nThird."
    paras = paragraphs(text)
    assert [p for _, p in paras] == [
        "First line of a wrapped paragraph.",
        "Second paragraph.",
        "Third.",
    ]
    for start, piece in paras:
        assert text[start : start + len(piece)].replace("\n", " ") == piece


def test_long_lines_are_paragraphs_of_their_own():
    line = "Zelensky said Ukraine would never give up its land, whatever the pressure. " * 3
    text = f"{line}\n{line}\n{line}"
    assert len(paragraphs(text)) == 3


def test_huge_paragraph_is_cut_in_pieces_with_one_index():
    text = "Peskov said a truce was a trap. " * 3000  # ~96k characters, no newline
    pieces = paragraph_pieces(text, max_chars=20_000)
    assert len(pieces) >= 5 and {para for _, _, para in pieces} == {0}
    assert all(len(p) <= 20_000 and p.endswith(".") for _, p, _ in pieces[:-1])


def test_sentences_offsets_and_paragraphs(nlp):
    text = (
        "date 2025-01-01\n\nZelensky said Kyiv was ready for a truce. Peskov rejected it.\n\n"
        '"We will not give up land," Sybiha wrote on X. Talks resume on Monday.'
    )
    (sents,) = segment([text], nlp)
    assert [s.text for s in sents] == [
        "date 2025-01-01",
        "Zelensky said Kyiv was ready for a truce.",
        "Peskov rejected it.",
        '"We will not give up land," Sybiha wrote on X.',
        "Talks resume on Monday.",
    ]
    assert [s.paragraph for s in sents] == [0, 1, 1, 2, 2]
    assert [s.index for s in sents] == list(range(5))
    for s in sents:
        assert text[s.start : s.end] == s.text
        assert s.span.doc[s.span.start : s.span.end].text == s.text


def test_several_texts_in_one_call_and_empty_text(nlp):
    out = segment(["One sentence here.", "   \n\n  ", "Another one. And more."], nlp)
    assert [len(s) for s in out] == [1, 0, 2]


def test_spacy_model_loaded_once_and_missing_model_is_one_line(monkeypatch):
    assert load_nlp() is load_nlp()
    monkeypatch.setattr(segmentation, "_nlp", None)
    monkeypatch.setattr(segmentation, "SPACY_MODEL", "no_such_spacy_model")
    with pytest.raises(StanceError, match="no_such_spacy_model.*not installed"):
        load_nlp()


def test_a_long_unpunctuated_text_is_cut_into_capped_sentences(nlp):
    from stance.config import MAX_SENTENCE_CHARS
    from stance.pipeline.segmentation import cap_runs

    words = "zelensky said ukraine would never cede land and the talks went on with envoys from europe"
    text = " ".join([words] * 400) + ". Peskov said a truce was a trap."  # ~36k characters, one sentence end
    (sents,) = segment([text], nlp)
    assert max(len(s.text) for s in sents) <= MAX_SENTENCE_CHARS
    assert len(sents) >= len(text) // MAX_SENTENCE_CHARS
    assert sents[-1].text == "Peskov said a truce was a trap."
    for s in sents:
        assert text[s.start : s.end] == s.text
    # Cut at spaces, never inside a word, and hard only when there is no space at all.
    pieces = cap_runs(text, 1000)
    assert all(text[o : o + len(p)] == p for o, p in pieces) and all(len(p) <= 1000 for _, p in pieces[:-1])
    assert all(not p[0].isspace() and text[o - 1] == " " for o, p in pieces[1:])
    assert [len(p) for _, p in cap_runs("x" * 2500, 1000)] == [1000, 1000, 500]
    assert cap_runs("Short. Text.", 1000) == [(0, "Short. Text.")]


def test_the_default_pipelines_saved_tokenizer_is_the_one_spacy_builds():
    """load_nlp skips reading the default pipeline's tokenizer from disk: only safe while
    the saved one equals the English tokenizer spaCy builds from the language."""
    import spacy

    from stance.config import DEFAULT_SPACY_MODEL

    saved = spacy.load(DEFAULT_SPACY_MODEL, exclude=["senter"])
    built = spacy.load(DEFAULT_SPACY_MODEL, exclude=["senter", "tokenizer"])
    assert saved.tokenizer.to_bytes() == built.tokenizer.to_bytes()
