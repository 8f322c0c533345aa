"""Aggregation: confidence-weighted votes into actor, side and corpus tables."""

from __future__ import annotations

import pytest

from stance.pipeline.findings import CorpusTally, Finding, Tally, actor_table, choose_stance, side_table


def f(
    actor,
    topic,
    stance,
    conf,
    sentence=0,
    article="a",
    side="ukraine",
    date="2025-01-01",
    text=None,
):
    return Finding(
        article=article,
        sentence=sentence,
        text=text or f"s{sentence}",
        actor=actor,
        side=side,
        topic=topic,
        stance=stance,
        confidence=conf,
        attribution="reported",
        start=0,
        end=1,
        date=date,
    )


def test_weighted_vote_confidence_sentences_and_evidence():
    rows = actor_table(
        [
            f("zelensky", "territory", "oppose", 0.9, 0, text="never"),
            f("zelensky", "territory", "oppose", 0.6, 1),
            f("zelensky", "territory", "support", 0.5, 2),
            f("zelensky", "territory", "neutral", 0.95, 3),
        ]
    )
    (row,) = rows
    assert row.stance == "oppose" and row.sentences == 2 and row.findings == 4
    # agreement (1.5 of 2.0 polar weight) × strength (mean 0.75) — neutral does not dilute.
    assert row.confidence == pytest.approx(1.5 / 2.0 * 0.75)
    assert (row.evidence, row.evidence_sentence) == ("never", 0)
    assert row.weights == pytest.approx({"support": 0.5, "oppose": 1.5, "neutral": 0.95})


def test_neutral_only_when_no_position():
    (row,) = actor_table([f("rubio", "security_guarantees", "neutral", 0.4, i) for i in range(3)])
    assert row.stance == "neutral" and row.confidence == pytest.approx(0.4) and row.sentences == 3


def test_ties_prefer_more_sentences_then_oppose():
    w = {"support": 1.0, "oppose": 1.0, "neutral": 0.0}
    assert choose_stance(w, {"support": 2, "oppose": 1, "neutral": 0}) == "support"
    assert choose_stance(w, {"support": 1, "oppose": 1, "neutral": 0}) == "oppose"


def test_side_rollup_keeps_author_apart_and_counts_sentences_once():
    findings = [
        f("zelensky", "ceasefire", "support", 0.8, 0),
        f("sybiha", "ceasefire", "support", 0.6, 0),  # same sentence, same side
        f("peskov", "ceasefire", "oppose", 0.7, 1, side="russia"),
        f("author", "ceasefire", "oppose", 0.5, 2, side="other"),
    ]
    rows = {(r.actor, r.topic): r for r in side_table(findings)}
    assert set(rows) == {("ukraine", "ceasefire"), ("russia", "ceasefire"), ("author", "ceasefire")}
    assert rows["ukraine", "ceasefire"].sentences == 1 and rows["ukraine", "ceasefire"].findings == 2
    assert rows["author", "ceasefire"].side == "author"


def test_rows_are_sorted_by_side_then_actor_then_topic():
    rows = actor_table(
        [
            f("putin", "territory", "support", 0.5, side="russia"),
            f("zelensky", "territory", "oppose", 0.5),
            f("author", "ceasefire", "oppose", 0.5, side="other"),
        ]
    )
    assert [r.actor for r in rows] == ["zelensky", "putin", "author"]


def test_corpus_tally_over_articles_and_dates():
    tally = CorpusTally()
    for finding in [
        f("trump", "ceasefire", "support", 0.8, 0, "a1", "united_states", "2025-03-01"),
        f("trump", "ceasefire", "support", 0.6, 3, "a1", "united_states", "2025-03-01"),
        f("trump", "ceasefire", "oppose", 0.9, 0, "a2", "united_states", "2025-08-15"),
        f("trump", "ceasefire", "oppose", 0.4, 1, "a3", "united_states", None),
    ]:
        tally.add(finding)
    s = tally.summary()
    (overall,) = s["positions"]
    assert overall.articles == 3 and overall.stance == "support"  # 1.4 of support against 1.3
    by_date = {r.date: r for r in s["positions_by_date"]}
    assert set(by_date) == {"2025-03-01", "2025-08-15", "undated"}
    assert by_date["2025-03-01"].stance == "support" and by_date["2025-03-01"].sentences == 2
    assert by_date["2025-08-15"].stance == "oppose"
    assert {(r.date, r.actor) for r in s["sides_by_date"]} == {
        ("2025-03-01", "united_states"),
        ("2025-08-15", "united_states"),
        ("undated", "united_states"),
    }


def test_tally_keys_are_free():
    t = Tally(lambda x: (x.side, x.topic)).update([f("a", "t", "support", 1.0), f("b", "t", "support", 1.0)])
    (row,) = t.rows()
    assert row.actor == "ukraine" and row.to_dict()["confidence"] == 1.0


def test_score_and_report_agree_on_the_vote():
    """One support at 0.9 and two opposes at 0.3: the weighted vote says support, in the
    scorer's tables and in the report alike (they used to disagree)."""
    from stance.report import position_table

    rows = [
        f("zelensky", "ceasefire", "support", 0.9, sentence=0),
        f("zelensky", "ceasefire", "oppose", 0.3, sentence=1),
        f("zelensky", "ceasefire", "oppose", 0.3, sentence=2),
    ]
    [cell] = actor_table(rows)
    report_cell = position_table(rows).iloc[0]
    assert cell.stance == report_cell["stance"] == "support"
    assert cell.confidence == pytest.approx(report_cell["confidence"])
