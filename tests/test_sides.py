"""Sides of new actors, inferred from their title, nationality or organisation."""

from __future__ import annotations

import pytest

from stance.errors import StanceError
from stance.pipeline.actors import ArticleActors
from stance.pipeline.scoring import score_article
from stance.pipeline.sides import SideCues


@pytest.mark.parametrize(
    ("text", "actor", "side"),
    [
        ("Russian Deputy Foreign Minister Alexander Grushko said a ceasefire was out of the question.", "grushko",
         "russia"),
        ("Alexander Grushko, Russia's deputy foreign minister, said the plan was unacceptable.", "grushko", "russia"),
        ("Ukrainian lawmaker Oleksiy Goncharenko said the truce was a trap.", "oleksiy_goncharenko", "ukraine"),
        ("Pentagon spokesman Sean Parnell said no troops would deploy.", "parnell", "united_states"),
        ("Mikhail Ulyanov, Moscow's envoy in Vienna, rejected the plan.", "ulyanov", "russia"),
        # Independent voices stay `other`, as the labelling guideline says.
        ("Olena Marchenko, an analyst at the Kyiv Institute, said guarantees were vital.", "marchenko", "other"),
        # A name alone says nothing.
        ("Alexander Grushko said a ceasefire was out of the question.", "grushko", "other"),
    ],
)  # fmt: skip
def test_new_actor_side_from_title_nationality_or_organisation(actor_index, nlp, text, actor, side):
    actors = ArticleActors(actor_index)
    found = {m.actor: m for m in actors.find(nlp(text))}
    assert found[actor].side == side
    assert actors.new[actor].side == side and actors.new[actor].side_inferred == (side != "other")


def test_kyivs_deputy_negotiator_lands_on_ukraine(keyword_model, registry):
    result = score_article("Kyiv's deputy negotiator said Ukraine would never cede land.", model=keyword_model,
                           registry=registry)  # fmt: skip
    assert [(f.side, f.topic, f.stance) for f in result.findings] == [("ukraine", "territory", "oppose")]


def test_findings_say_the_side_was_inferred(keyword_model, registry):
    text = (
        "Russian Deputy Foreign Minister Alexander Grushko said a truce was out of the question. "
        "Lavrov said Moscow would never accept a truce."
    )
    result = score_article(text, model=keyword_model, registry=registry)
    by_actor = {f.actor: f for f in result.findings}
    assert (by_actor["grushko"].side, by_actor["grushko"].side_inferred) == ("russia", True)
    assert (by_actor["lavrov"].side, by_actor["lavrov"].side_inferred) == ("russia", False)  # from the registry
    assert by_actor["grushko"].to_dict()["side_inferred"] is True
    assert next(n for n in result.new_actors if n.id == "grushko").side_inferred


def test_the_cue_table_is_data_and_checked(tmp_path):
    cues = SideCues.load()
    assert cues.words[("kremlin",)] == "russia" and ("white", "house") in cues.words
    assert ("us",) in cues.capitals  # "US" is a cue, the pronoun "us" is not
    bad = tmp_path / "cues.yaml"
    bad.write_text("sides:\n  narnia: [aslan]\n", encoding="utf-8")
    with pytest.raises(StanceError, match="unknown side"):
        SideCues.load(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("titles: [minister\nsides: {}\n", encoding="utf-8")
    with pytest.raises(StanceError, match=r"broken.yaml:\d+: invalid YAML") as err:
        SideCues.load(broken)
    assert "\n" not in str(err.value)
