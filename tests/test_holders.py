"""Holder candidates and the learned holder model, one written example per phenomenon of
real news (pronoun chains, collective subjects, coordinated holders, bylines, headlines,
first-person-plural statements, think-tank attributions, presupposed positions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stance.labels import LabelSet
from stance.pipeline.reading import read_text
from stance.pipeline.scoring import LanguageStages
from stance.training.holders import holder_groups, holder_metrics, train_holder_model

LABELS = Path(__file__).resolve().parents[1] / "labels"


@pytest.fixture(scope="module")
def trained():
    """The holder model trained on the project's labels (about 40 s on 2 cores)."""
    labels = LabelSet.load(LABELS)
    model, metrics = train_holder_model(labels)
    return model, metrics, labels.registry


def holders_of(trained, text: str) -> list[list[str]]:
    model, _, registry = trained
    stages = LanguageStages(registry, holder_model=model)
    article, _ = read_text(text, id="t")
    [analysed] = stages.analyse([article])
    return [[h.actor for h in s.holders] for s in analysed.sentences]


def candidates_of(trained, text: str) -> list[set[str]]:
    model, _, registry = trained
    stages = LanguageStages(registry, holder_model=model)
    article, _ = read_text(text, id="t")
    [analysed] = stages.analyse([article])
    return [{c.actor for c in cs} for cs in analysed.candidates]


def test_learned_holders_beat_the_rules_on_held_out_documents(trained):
    _, metrics, _ = trained
    for split in ("dev", "test"):
        assert metrics[f"{split}_holder_candidate_recall"] > 0.9
        assert metrics[f"{split}_holder_accuracy"] > metrics[f"{split}_holder_rules_accuracy"]


def test_pronoun_chain(trained):
    text = (
        "Viktor Orban met reporters in Budapest on Monday. He spoke for an hour. "
        "Above all, he was firmly opposed to a truce that let Kyiv rearm."
    )
    assert "orban" in holders_of(trained, text)[2]


def test_collective_plural_subject(trained):
    text = "European leaders gathered in Paris on Thursday. The leaders urged Moscow to accept the truce."
    assert "european_leaders" in candidates_of(trained, text)[1]
    assert holders_of(trained, text)[1][0] == "european_leaders"


def test_coordinated_holders(trained):
    text = "Germany, Poland and France backed the plan for a reassurance force on Tuesday."
    assert {"germany", "poland", "france"} <= set(holders_of(trained, text)[0])


def test_byline_aside_is_the_author(trained):
    text = "A ceasefire without guarantees would only reward the aggressor, writes our diplomatic editor."
    assert holders_of(trained, text)[0] == ["author"]


def test_live_blog_entry_title(trained):
    text = "Live: peace talks\n\n14:05 Kremlin rules out European troops in Ukraine\n\nMore follows."
    assert holders_of(trained, text)[0][0] == "russia"


def test_first_person_plural_statement(trained):
    text = (
        "The leaders of France and Germany issued a joint statement on Sunday.\n\n"
        "We will not accept any deal that forces Ukraine to give up its land."
    )
    held = holders_of(trained, text)[1]
    assert "author" not in held and set(held) & {"france", "germany", "european_leaders"}


def test_think_tank_attribution(trained):
    text = "The institute assessed that the Kremlin has no interest in a truce this year."
    assert "russia" in holders_of(trained, text)[0]


def test_presupposed_position(trained):
    text = "Vance criticised Kyiv's refusal to give up the Donbas."
    assert "ukraine" in candidates_of(trained, text)[0]


def test_holder_model_round_trip(trained, tmp_path):
    from stance.pipeline.holders import HolderModel

    model, _, _ = trained
    model.save(tmp_path / "h.skops")
    again = HolderModel.load(tmp_path / "h.skops")
    groups = holder_groups(LabelSet.load(Path(__file__).parent / "fixtures" / "labels_custom"))
    assert holder_metrics(again, groups) == holder_metrics(model, groups)
