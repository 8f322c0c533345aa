"""The scoring API: findings, confidences, batching, models, streaming corpora."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import stance
from stance import tracking
from stance.errors import StanceError
from stance.pipeline.scoring import FINDING_KEYS, Scorer, score_article, score_corpus

ARTICLE = """date 2025-03-04
Kremlin rejects truce

Kremlin spokesman Dmitry Peskov told reporters that a truce was a trap. \
"We will never cede Donbas," Zelensky said.

Talks resume on Monday. Macron said Europe was ready to send troops to guarantee the peace.
"""


def test_score_article_exact_findings_with_a_keyword_model(keyword_model, registry):
    result = score_article(ARTICLE, model=keyword_model, registry=registry, id="wire")
    assert result.article.date == "2025-03-04" and result.article.title == "Kremlin rejects truce"
    got = [
        (f.sentence, f.actor, f.side, f.topic, f.stance, round(f.confidence, 4), f.attribution) for f in result.findings
    ]
    assert got == [
        (0, "peskov", "russia", "ceasefire", "oppose", 0.72, "reported"),
        (1, "zelensky", "ukraine", "territory", "oppose", 0.72, "quote"),
        (3, "macron", "europe", "security_guarantees", "support", 0.72, "reported"),
    ]
    for f in result.findings:
        assert ARTICLE[f.start : f.end] == f.text and f.article == "wire" and f.date == "2025-03-04"
        assert f.confidence == pytest.approx(f.topic_confidence * f.stance_confidence)
        assert set(FINDING_KEYS) <= set(f.to_dict())
    assert [(p.actor, p.topic, p.stance) for p in result.positions] == [
        ("zelensky", "territory", "oppose"),
        ("peskov", "ceasefire", "oppose"),
        ("macron", "security_guarantees", "support"),
    ]
    assert [(p.actor, p.topic) for p in result.sides] == [
        ("ukraine", "territory"),
        ("russia", "ceasefire"),
        ("europe", "security_guarantees"),
    ]
    assert [s.holders[0].actor for s in result.sentences] == [
        "peskov",
        "zelensky",
        "author",
        "macron",
    ]
    assert set(result.sentences[0].topics) == {"ceasefire", "territory", "security_guarantees"}


def test_min_confidence_drops_weak_findings(keyword_model, registry):
    assert score_article(ARTICLE, model=keyword_model, registry=registry, min_confidence=0.8).findings == []


def test_the_models_tuned_position_threshold_is_the_default_cut(keyword_model, registry):
    keyword_model.position_threshold = 0.8
    assert score_article(ARTICLE, model=keyword_model, registry=registry).findings == []
    assert score_article(ARTICLE, model=keyword_model, registry=registry, min_confidence=0.0).findings


def test_a_topic_whose_best_holder_cannot_reach_the_cut_asks_no_stance_question(tiny_model, registry, monkeypatch):
    from stance.pipeline.scoring import Scorer

    text = (
        "Putin rejected any truce on Monday. Zelensky said Ukraine backs a ceasefire, and Macron agreed. "
        "The talks resumed in Geneva. European leaders offered security guarantees to Kyiv."
    )
    every = score_article(text, Scorer(tiny_model, registry, min_confidence=0.0))
    asked = []
    predict = tiny_model.predict_stance
    monkeypatch.setattr(tiny_model, "predict_stance", lambda f: asked.append(len(f)) or predict(f))
    for cut in (0.2, 0.4, 0.6):
        asked.clear()
        result = score_article(text, Scorer(tiny_model, registry, min_confidence=cut))
        reach = {
            (s.index, t): p * max((h.confidence for h in s.holders), default=0.0)
            for s in every.sentences
            for t, p in s.topics.items()
            if p >= tiny_model.topic_threshold
        }
        held = [
            (s.index, len(s.holders)) for s in every.sentences for t in s.topics if reach.get((s.index, t), 0) >= cut
        ]
        assert sum(asked) == sum(n for _, n in held)  # only the topics that could yield a finding
        same = [f for f in every.findings if f.confidence >= cut]
        assert [(f.sentence, f.actor, f.topic, f.stance) for f in result.findings] == [
            (f.sentence, f.actor, f.topic, f.stance) for f in same
        ]


def test_model_calls_are_batched_over_articles(keyword_model, registry, tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"a{i}", "text": ARTICLE}) + "\n" for i in range(5)),
        encoding="utf-8",
    )
    results = list(score_corpus(corpus, model=keyword_model, registry=registry))
    assert len(results) == 5
    assert [name for name, _ in keyword_model.calls] == [
        "topics",
        "stance",
    ]  # once each, not per sentence
    assert keyword_model.calls[0][1] == sum(len(r.sentences) for r in results)


def test_score_corpus_streams_and_tallies(tiny_model, registry, examples_dir):
    seen = []
    corpus = score_corpus(examples_dir, model=tiny_model, registry=registry, on_problem=seen.append)
    assert corpus.n_articles == 0  # nothing read until iterated
    results = list(corpus)
    assert {r.id for r in results} >= {"ledger-2025-11-03", str(examples_dir / "oped.txt")}
    assert len(results) == 9 and corpus.n_articles == 9 and seen == corpus.problems == []
    assert corpus.n_sentences == sum(len(r.sentences) for r in results) > 100
    summary = corpus.summary()
    assert summary["articles"] == 9 and summary["positions"] and summary["sides_by_date"]
    assert list(corpus) == []  # single use
    oped = next(r for r in results if r.id.endswith("oped.txt"))
    assert any(f.actor == "author" for f in oped.findings)  # the op-ed's own voice holds positions
    interview = next(r for r in results if r.id.endswith("interview.txt"))
    assert "hrytsak" in {a.id for a in interview.new_actors}
    assert any(f.actor == "hrytsak" and f.side == "other" for f in interview.findings)


def test_model_from_a_folder_and_lazy_top_level_api(tiny_model_dir, registry):
    result = stance.score_article("Peskov said a ceasefire was a trap.", model=tiny_model_dir, registry=registry)
    assert result.sentences[0].holders[0].actor == "peskov"
    assert stance.score_corpus is score_corpus


def test_missing_and_broken_models_are_one_line_errors(tmp_path, registry, monkeypatch):
    with pytest.raises(StanceError, match="model not found"):
        Scorer(str(tmp_path / "nothing"), registry)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "classifier.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StanceError, match="cannot load model"):
        Scorer(str(broken), registry)
    monkeypatch.setattr(tracking, "CHAMPION_DIR", tmp_path / "no_champion")
    with pytest.raises(StanceError, match="make train"):
        Scorer(None, registry)
    with pytest.raises(StanceError, match="lacks predict_topics"):
        Scorer(object(), registry)


def test_missing_registry(keyword_model, tmp_path):
    with pytest.raises(StanceError, match="actors.yaml"):
        Scorer(keyword_model, tmp_path)


def test_one_bad_article_never_loses_the_others(keyword_model, registry, tmp_path):
    class Fragile(type(keyword_model)):
        def predict_topics(self, frame):
            if frame["text"].str.contains("BOOM").any():
                raise RuntimeError("cannot digest BOOM")
            return super().predict_topics(frame)

    corpus = tmp_path / "c.jsonl"
    texts = ["Peskov said a truce was a trap.", "BOOM goes the model.", "Macron backed troops."]
    corpus.write_text(
        "".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    run = score_corpus(corpus, model=Fragile(), registry=registry)
    assert [r.id for r in run] == ["a0", "a2"]
    (problem,) = run.errors
    assert problem.file.endswith("c.jsonl:2") and "cannot digest BOOM" in problem.message

    class Broken(type(keyword_model)):
        def predict_topics(self, frame):
            return np.zeros((1, 1))  # the wrong shape for every batch

    with pytest.raises(StanceError, match="scoring failed for every article"):
        list(score_corpus(corpus, model=Broken(), registry=registry))


def test_a_failure_in_the_language_stage_loses_only_that_article(keyword_model, registry, tmp_path, monkeypatch):
    from stance.pipeline import scoring

    corpus = tmp_path / "c.jsonl"
    texts = ["Peskov said a truce was a trap.", "SPACY-BOOM here.", "Macron backed troops."]
    corpus.write_text(
        "".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    segment = scoring.segment

    def fragile(texts, nlp):
        if any("SPACY-BOOM" in t for t in texts):
            raise ValueError("parser choked")
        return segment(texts, nlp)

    monkeypatch.setattr(scoring, "segment", fragile)
    run = score_corpus(corpus, model=keyword_model, registry=registry)
    assert [r.id for r in run] == ["a0", "a2"]
    (problem,) = run.errors
    assert problem.file.endswith("c.jsonl:2") and "parser choked" in problem.message


def test_worker_failures_lose_only_the_bad_article(keyword_model, registry, monkeypatch):
    """The language stage in worker processes: a batch that fails there is redone in this
    process (where the bad article is found), and a worker that dies hands the rest of the
    input back to this process."""
    import os

    from stance.pipeline import scoring
    from stance.pipeline.reading import Article

    parent = os.getpid()
    segment = scoring.segment

    def fragile(texts, nlp):
        if any("SPACY-BOOM" in t for t in texts):
            raise ValueError("parser choked")
        if os.getpid() != parent and any("WORKER-DIES" in t for t in texts):
            os._exit(1)  # a worker killed (out of memory, say)
        return segment(texts, nlp)

    monkeypatch.setattr(scoring, "segment", fragile)
    texts = ["Peskov said a truce was a trap.", "SPACY-BOOM here.", "Macron backed troops.", "WORKER-DIES now."]
    texts += ["Zelensky rejected the plan.", "Starmer backed guarantees."]
    articles = [Article(id=f"a{i}", text=t, origin=f"c.jsonl:{i + 1}") for i, t in enumerate(texts)]
    problems = []
    scorer = Scorer(keyword_model, registry, batch_articles=1, n_process=2)
    results = list(scorer.score(articles, on_problem=problems.append))
    assert [r.id for r in results] == ["a0", "a2", "a3", "a4", "a5"]
    (problem,) = problems
    assert problem.file == "c.jsonl:2" and "parser choked" in problem.message
    assert [r.findings for r in results] == [scorer.score_batch([a])[0].findings for a in articles if a.id != "a1"]


def test_frames_for_notebooks(keyword_model, registry):
    result = score_article(ARTICLE, model=keyword_model, registry=registry)
    assert list(result.findings_frame().columns[:12]) == list(FINDING_KEYS)
    assert len(result.positions_frame()) == 3
    assert result.summary()["positions"][0]["actor"] == "zelensky"


def test_empty_text_is_an_error(keyword_model, registry):
    with pytest.raises(StanceError, match="nothing to score"):
        score_article("  \n ", model=keyword_model, registry=registry)


def test_invisible_characters_do_not_hide_the_holder_and_offsets_stay_in_the_input(keyword_model, registry):
    text = (
        "Zelensky\u200b said Kyiv would never cede Don\u00adbas.\n\n"
        '"We will never accept a truce,"\u200e Pes\u200dkov said.'
    )
    result = score_article(text, model=keyword_model, registry=registry, id="zw")
    got = {(f.actor, f.topic, f.stance) for f in result.findings}
    assert got == {("zelensky", "territory", "oppose"), ("peskov", "ceasefire", "oppose")}
    for f in result.findings:
        # The sentence as scored has no invisible characters; its offsets are the input's.
        assert "\u200b" not in f.text and "\u00ad" not in f.text
        assert re.sub("[\u200b\u200d\u200e\u00ad]", "", text[f.start : f.end]) == f.text


def test_expected_articles_counts_files_and_jsonl_lines(tmp_path):
    from stance.pipeline.scoring import expected_articles

    (tmp_path / "a.txt").write_text("One.")
    (tmp_path / "c.jsonl").write_text('{"text": "x"}\n\n{"text": "y"}\n{"text": "z"}\n')
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.txt").write_text("Skipped.")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    assert expected_articles([tmp_path]) == 4
    assert expected_articles([tmp_path / "c.jsonl", tmp_path / "a.txt"]) == 4
    assert expected_articles([tmp_path / "missing.txt"]) == 1
    assert expected_articles(["-"]) is None


def test_worker_processes_give_the_same_results(tiny_model, registry, examples_dir):
    from stance.training.bench import example_articles

    articles = list(example_articles(9, examples_dir))
    one = Scorer(tiny_model, registry, batch_articles=2, n_process=1)
    two = Scorer(tiny_model, registry, batch_articles=2, n_process=2)
    seq, par = list(one.score(articles)), list(two.score(articles))
    assert [r.id for r in par] == [a.id for a in articles]
    assert [[f.to_dict() for f in r.findings] for r in par] == [[f.to_dict() for f in r.findings] for r in seq]
    assert sum(len(r.sentences) for r in par) > 50


def test_scoring_with_a_built_in_family_imports_no_pandas(tiny_model_dir, tiny_labels, tmp_path):
    """pandas is a fifth of a cold start: the TF-IDF path must not pull it in."""
    import subprocess
    import sys

    from conftest import stance_process_env

    code = (
        "import sys; from stance.pipeline.scoring import score_article; "
        "r = score_article('Peskov said a truce was a trap.', "
        f"model={str(tiny_model_dir)!r}, registry={str(tiny_labels)!r}); "
        "print(len(r.findings), 'pandas' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=stance_process_env(tmp_path))
    assert out.returncode == 0, out.stderr[-500:]
    n, pandas, sklearn = out.stdout.split()
    assert (pandas, sklearn) == ("False", "False") and int(n) >= 0

    # The same through the command line (its progress display and writers included).
    article = tmp_path / "one.txt"
    article.write_text("Peskov said a truce was a trap.", encoding="utf-8")
    code = (
        "import sys; from stance.cli.app import main; "
        f"sys.argv = ['stance', 'score', {str(article)!r}, '--model', {str(tiny_model_dir)!r}, "
        f"'--labels', {str(tiny_labels)!r}, '--out', {str(tmp_path / 'out.jsonl')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print(code, 'pandas' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=stance_process_env(tmp_path))
    assert out.stdout.split()[-3:] == ["0", "False", "False"], out.stdout[-300:] + out.stderr[-500:]
