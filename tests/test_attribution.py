"""Attribution: who holds the positions of each sentence, and how they were found."""

from __future__ import annotations

import pytest

from stance.pipeline.actors import ArticleActors
from stance.pipeline.attribution import attribute, quote_marks
from stance.pipeline.segmentation import segment


@pytest.fixture()
def holders(actor_index, nlp):
    """text → per sentence, the list of (actor, method)."""

    def run(text: str):
        (sentences,) = segment([text], nlp)
        docs = list({id(s.span.doc): s.span.doc for s in sentences}.values())
        actor_index.recognise(docs)
        actors = ArticleActors(actor_index)
        found = {id(d): actors.find(d) for d in docs}
        mentions = [[m for m in found[id(s.span.doc)] if s.span.start <= m.start < s.span.end] for s in sentences]
        return [[(h.actor, h.method) for h in hs] for hs in attribute(sentences, mentions, actors)]

    return run


def test_quote_speaker(holders):
    assert holders('"We will never cede Donbas," Zelensky said.') == [[("zelensky", "quote")]]
    assert holders("Zelensky said: “We will never cede Donbas.”") == [[("zelensky", "quote")]]


def test_quote_over_several_sentences_and_paragraphs(holders):
    text = (
        "“We are ready for a ceasefire. But it must be real,” Umerov told the delegation.\n\n"
        "“And it must be guaranteed. Without that there is nothing to sign.\n\n"
        "“We have said this many times,” he added.\n\nThe talks resume on Monday."
    )
    assert holders(text) == [[("umerov", "quote")]] * 5 + [[("author", "author")]]


def test_quote_opening_after_the_speaker_was_named(holders):
    text = 'Peskov was defiant on Tuesday. "This is a trap. Nobody will accept it."'
    assert holders(text) == [[("peskov", "subject")], [("peskov", "quote")], [("peskov", "quote")]]


def test_reported_speech_forms(holders):
    assert holders(
        "Kremlin spokesman Dmitry Peskov told reporters that a European contingent was out of the question."
    ) == [[("peskov", "reported")]]
    assert holders("A European force would be a target, said Lavrov.") == [[("lavrov", "reported")]]
    assert holders("According to Lavrov, the plan is a good basis.") == [[("lavrov", "reported")]]
    assert holders("Zelensky wrote on Telegram that Kyiv would not withdraw.") == [[("zelensky", "reported")]]
    assert holders("A senior State Department official said a truce was weeks away.") == [
        [("united_states", "reported")]
    ]


def test_pronouns_and_titles_resolve_to_the_last_fitting_actor(holders):
    text = (
        "Lavrov said the plan was a good basis. He added that Moscow would not accept a truce. "
        "Zelensky spoke next. The president insisted on guarantees. "
        "Kallas met Rutte in Brussels. She said Europe would back Kyiv. "
        "Ushakov met Witkoff. The Russian aide said the talks were useful."
    )
    assert holders(text) == [
        [("lavrov", "reported")],
        [("lavrov", "coreference")],
        [("zelensky", "reported")],
        [("zelensky", "coreference")],
        [("kallas", "subject")],
        [("kallas", "coreference")],
        [("ushakov", "subject")],
        [("ushakov", "coreference")],
    ]


def test_new_actor_and_title_coreference(holders):
    text = (
        "Olena Marchenko, an analyst at the Kyiv School of Economics, said the talks had stalled. "
        "The analyst added that a freeze was the only compromise."
    )
    assert holders(text) == [[("marchenko", "reported")], [("marchenko", "coreference")]]


def test_subject_of_demanding_and_a_demand_made_of_someone(holders):
    assert holders("Moscow insists that Kyiv pull its troops out of Zaporizhzhia before any talks.") == [
        [("russia", "reported")]
    ]
    assert holders("Trump urged Zelensky to accept the deal.") == [[("trump", "subject")]]
    assert holders("Russia wants all of Donbas.") == [[("russia", "subject")]]
    assert holders("The plan was rejected by Moscow.") == [[("russia", "subject")]]


def test_embedded_subjects_belong_to_the_speaker(holders):
    assert holders("Peskov said Kyiv had rejected the offer.") == [[("peskov", "reported")]]
    assert holders("Asked whether Ukraine would accept a truce, Sybiha said no.") == [[("sybiha", "reported")]]


def test_two_actors_in_one_sentence(holders):
    assert holders("Zelensky rejected the plan, while Putin welcomed it.") == [
        [("zelensky", "subject"), ("putin", "subject")]
    ]
    assert holders("Macron and Starmer said they would send troops.") == [
        [("macron", "reported"), ("starmer", "reported")]
    ]


def test_author_voice(holders):
    text = (
        "A ceasefire without guarantees would simply give Moscow time to rearm. "
        "Europe must be willing to put soldiers behind its words. "
        "We reject the idea that Ukraine should buy quiet with land. "
        "Putin has said he will not accept European troops. "
        "He does not get a veto over how a sovereign country defends itself."
    )
    assert holders(text) == [
        [("author", "author")],
        [("author", "author")],
        [("author", "author")],
        [("putin", "reported")],
        [("author", "author")],
    ]


def test_scare_quotes_are_not_a_speaker(holders):
    assert holders('The Kremlin rejected what it called a "peace plan" from Kyiv.') == [[("russia", "subject")]]


def test_quote_marks_carry_and_ignore_apostrophes(nlp):
    (sents,) = segment(["“We won’t leave. Never.” Putin’s aides laughed. ‘It is over,’ she said."], nlp)
    q = quote_marks(sents)
    assert [(x.starts_inside, x.ends_inside) for x in q] == [
        (False, True),
        (True, False),
        (False, False),
        (False, False),
    ]
    inside = [[t.text for t in s.span if t.i in x.inside] for s, x in zip(sents, q, strict=True)]
    assert inside[0] == ["We", "wo", "n’t", "leave", "."] and inside[2] == []
    assert inside[3][:3] == ["It", "is", "over"]


def test_a_quote_left_open_belongs_to_whoever_opened_it(holders):
    """Two speakers in one sentence, the second opening a quote that runs on: the next
    sentence is the second speaker's alone (the first sentence stays both speakers')."""
    text = (
        "Peskov dismissed the proposal as premature, while Zakharova told reporters, "
        "“Moscow rejects any truce on these terms. A pause would only help Kyiv rearm.”"
    )
    first, second = holders(text)
    assert {a for a, _ in first} == {"peskov", "zakharova"}
    assert second == [("zakharova", "quote")]
    text = (
        "Zakharova told reporters, “Moscow rejects any truce on these terms,” and Peskov added, "
        "“Nobody in the Kremlin will sign a pause. It would only help Kyiv rearm.”"
    )
    assert holders(text)[1] == [("peskov", "quote")]
