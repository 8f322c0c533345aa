"""`stance evaluate --articles DIR --gold FILE`: gold-labelled articles of the user's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.pipeline.scoring import Scorer
from stance.training.evaluate_articles import GoldError, evaluate_articles, gold_set_figures, load_gold

ARTICLES = Path(__file__).parent / "fixtures" / "gold_articles" / "articles"


@pytest.fixture
def scorer(keyword_model, registry):
    return Scorer(keyword_model, registry)


def gold_from_pipeline(scorer, path: Path, change=None) -> Path:
    """A gold file that says exactly what the pipeline finds (optionally with one change)."""
    from stance.pipeline.reading import Article, read_inputs

    rows = []
    for f in sorted(ARTICLES.iterdir()):
        art = [a for a in read_inputs([str(f)]) if isinstance(a, Article)][0]
        key = f.stem.split("_")[0]
        result = scorer.score_batch([art])[0]
        for s in result.sentences:
            found = [x for x in result.findings if x.sentence == s.index]
            base = {"id": f"{key}-{s.index:03d}", "article": key, "text": s.text}
            if not found:
                rows.append({**base, "actor": "", "side": "", "topic": "none", "stance": "neutral"})
            for x in found:
                rows.append({**base, "actor": x.actor, "side": x.side, "topic": x.topic, "stance": x.stance})
    if change:
        change(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gold_equal_to_the_findings_scores_one(scorer, tmp_path):
    gold = gold_from_pipeline(scorer, tmp_path / "gold.jsonl")
    report = evaluate_articles(ARTICLES, gold, model=scorer)
    assert report.articles == 2 and report.gold_positions >= 3
    for level in ("actor", "side"):
        assert report.levels[level]["sentence"]["f1"] == 1.0
        assert report.levels[level]["article"]["f1"] == 1.0
    assert report.holder_accuracy == 1.0 and sum(report.misses.values()) == 0


def test_gold_set_figures_for_benchmarks(scorer, tmp_path):
    import shutil

    assert gold_set_figures(tmp_path / "absent", model=scorer) is None
    shutil.copytree(ARTICLES, tmp_path / "set" / "articles")
    gold_from_pipeline(scorer, tmp_path / "set" / "gold.jsonl")
    figures = gold_set_figures(tmp_path / "set", model=scorer)
    assert figures["articles_article_actor_f1"] == 1.0 and figures["articles_sentence_actor_f1"] == 1.0


def test_a_wrong_holder_is_counted_as_a_holder_miss(scorer, tmp_path):
    def swap(rows):
        row = next(r for r in rows if r["actor"] == "peskov")
        row["actor"], row["side"] = "medvedev", "russia"

    report = evaluate_articles(ARTICLES, gold_from_pipeline(scorer, tmp_path / "g.jsonl", swap), model=scorer)
    assert report.misses["holder"] == 1
    assert report.levels["actor"]["sentence"]["recall"] < 1.0
    # Both holders are on the Russian side: at the side level nothing is lost.
    assert report.levels["side"]["sentence"]["f1"] == 1.0
    assert report.holder_accuracy < 1.0


def test_bad_gold_lines_are_located(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"id": "a01-000", "article": "a01", "text": "x", "topic": "none", "stance": "neutral"}\nnot json\n'
    )
    with pytest.raises(GoldError, match=r"gold.jsonl:2: invalid JSON"):
        load_gold(gold)


def test_cli_articles_and_gold(scorer, tiny_labels, tiny_model_dir, tmp_path):
    gold = gold_from_pipeline(scorer, tmp_path / "gold.jsonl")
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["evaluate", "--articles", str(ARTICLES), "--gold", str(gold), "--model", str(tiny_model_dir)]
        + ["--labels", str(tiny_labels), "--no-mlflow"],
    )
    assert ok.exit_code == 0, ok.output
    assert "article F1 (actor)" in ok.output and "holder accuracy" in ok.output
    alone = runner.invoke(app, ["evaluate", "--articles", str(ARTICLES), "--no-mlflow"])
    assert alone.exit_code == 2 and "--articles and --gold go together" in alone.output
    missing = runner.invoke(app, ["evaluate", "--articles", str(tmp_path), "--gold", str(gold), "--no-mlflow"])
    assert missing.exit_code == 2 and "no article file for gold article" in missing.output


def test_two_files_for_one_gold_article_are_refused(tmp_path):
    import shutil

    from stance.errors import StanceError
    from stance.training.evaluate_articles import article_files

    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    shutil.copy(folder / "a01_summit.txt", folder / "a01_copy.txt")
    with pytest.raises(StanceError, match=r"a01_summit\.txt: duplicate article id 'a01' \(first in a01_copy\.txt\)"):
        article_files(folder, {"a01", "a02"})
