"""The indexed attribute ruler must annotate exactly as spaCy's own component."""

import pytest

from stance.pipeline.attribute_index import FACTORY, IndexedAttributeRuler, index_attribute_ruler
from stance.pipeline.segmentation import load_nlp, text_pieces


@pytest.fixture(scope="module")
def spacy_reference():
    import spacy

    from stance.config import DEFAULT_SPACY_MODEL

    return spacy.load(DEFAULT_SPACY_MODEL, exclude=["senter", "ner"])


def _annotations(doc):
    return [(t.text, t.tag_, t.pos_, str(t.morph), t.lemma_, t.dep_) for t in doc]


def test_same_annotations_as_spacys_attribute_ruler(spacy_reference, examples_dir):
    nlp = load_nlp()
    assert nlp.get_pipe_meta("attribute_ruler").factory == FACTORY
    texts = [p.read_text() for p in sorted(examples_dir.glob("*.txt"))]
    # The rules' corner cases: contractions, "gonna", negation, spaces, "there is", "that".
    texts.append("We ain't gonna sign it, and they won't either.\n  There is no deal that    works if it isn't fair.")
    _, pieces = text_pieces(texts)
    ours = list(nlp.pipe(pieces, disable=["ner"]))
    theirs = list(spacy_reference.pipe(pieces))
    assert sum(len(d) for d in ours) > 1000
    assert [_annotations(d) for d in ours] == [_annotations(d) for d in theirs]


def test_every_rule_is_kept_once(spacy_reference):
    ruler = spacy_reference.get_pipe("attribute_ruler")
    indexed = IndexedAttributeRuler(spacy_reference.vocab).adopt(ruler)
    looked_up = [*indexed.by_tag.values(), *(n for n, _ in indexed.everywhere)]
    looked_up += {n for rules in indexed.by_word.values() for n, _ in rules}
    assert len(set(looked_up)) == len(looked_up)
    assert len(looked_up) + len(indexed.matcher) == len(ruler.patterns)
    assert len(indexed.by_tag) > 40 and indexed.by_word  # the tag map and the word rules are indexed


def test_a_pipeline_without_the_component_is_left_alone():
    import spacy

    nlp = spacy.blank("en")
    assert not index_attribute_ruler(nlp)
    assert nlp.pipe_names == []
