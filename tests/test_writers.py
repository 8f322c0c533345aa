"""Output formats and atomic writes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from stance.cli.writers import ProgressReporter, default_format, make_writer
from stance.errors import StanceError
from stance.io import atomic_output
from stance.pipeline.scoring import FINDING_KEYS, score_corpus

TEXT = (
    'Peskov said a truce was a trap. "We will never cede Donbas," Zelensky said. '
    "Macron said Europe was ready to send troops to guarantee the peace."
)


@pytest.fixture()
def scored(keyword_model, registry, tmp_path):
    (tmp_path / "a.txt").write_text("date 2025-03-04\n\n" + TEXT, encoding="utf-8")
    (tmp_path / "b.txt").write_text("date 2025-03-05\n\nLavrov rejected a truce.", encoding="utf-8")
    corpus = score_corpus(tmp_path, model=keyword_model, registry=registry)
    return corpus, list(corpus)


def _write(fmt, corpus, results, topics):
    out = io.StringIO()
    w = make_writer(fmt, out, topics)
    for r in results:
        w.article(r)
    w.finish(corpus)
    return out.getvalue()


def test_jsonl_one_object_per_finding(scored, keyword_model):
    corpus, results = scored
    lines = _write("jsonl", corpus, results, keyword_model.topic_ids).splitlines()
    assert len(lines) == sum(len(r.findings) for r in results) == 4
    for line in lines:
        obj = json.loads(line)
        assert list(obj)[:12] == list(FINDING_KEYS)
        assert obj["topic"] != "none" and obj["stance"] in ("support", "oppose", "neutral")
        assert 0 <= obj["confidence"] <= 1 and isinstance(obj["sentence"], int)
        assert obj["date"] in ("2025-03-04", "2025-03-05")


def test_csv_findings(scored, keyword_model):
    corpus, results = scored
    rows = list(csv.DictReader(io.StringIO(_write("csv", corpus, results, keyword_model.topic_ids))))
    assert len(rows) == 4 and set(FINDING_KEYS) <= set(rows[0])
    assert {r["actor"] for r in rows} == {"peskov", "zelensky", "macron", "lavrov"}


def test_json_document_with_summaries_and_corpus(scored, keyword_model):
    corpus, results = scored
    doc = json.loads(_write("json", corpus, results, keyword_model.topic_ids))
    assert doc["topics"] == keyword_model.topic_ids
    assert [a["date"] for a in doc["articles"]] == ["2025-03-04", "2025-03-05"]
    first = doc["articles"][0]
    assert {p["actor"] for p in first["positions"]} == {"peskov", "zelensky", "macron"}
    assert len(first["findings"]) == 3 and first["sentences"] == 3
    assert doc["corpus"]["articles"] == 2 and len(doc["corpus"]["positions_by_date"]) == 4


def test_table_shows_pivot_evidence_and_corpus(scored, keyword_model):
    corpus, results = scored
    text = _write("table", corpus, results, keyword_model.topic_ids)
    assert "\x1b[" not in text  # no colour codes outside a terminal
    for word in (
        "zelensky",
        "ukraine",
        "oppose 0.72 ×1",
        "evidence",
        "We will never cede Donbas",
        "corpus: 2 articles",
        "sides by date",
        "2025-03-05",
    ):
        assert word in text


def test_unknown_format():
    with pytest.raises(StanceError, match="unknown format"):
        make_writer("xml", io.StringIO(), [])


def test_default_format_depends_on_the_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert default_format(io.StringIO()) == "jsonl" and default_format(Tty()) == "table"


def test_atomic_output_replaces_only_on_success(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as fh:
            fh.write("half a file")
            raise RuntimeError("crash")
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left
    with atomic_output(out) as fh:
        fh.write("new\n")
    assert out.read_text(encoding="utf-8") == "new\n"
    with pytest.raises(StanceError, match="does not exist"):
        with atomic_output(tmp_path / "missing" / "x.json"):
            pass
    with pytest.raises(StanceError, match="is a folder"):
        with atomic_output(tmp_path):
            pass


def test_progress_only_when_asked(capsys):
    quiet = ProgressReporter(enabled=False)
    quiet.update(10, 100)
    quiet.echo("stance: a problem")
    quiet.close()
    assert quiet.progress is None and "a problem" in capsys.readouterr().err
    live = ProgressReporter(enabled=True, after_seconds=0)
    live.update(3, 30)
    assert live.progress is not None
    live.close()
    assert live.progress is None


JOINT = (
    "Macron, Starmer and Merz said Europe was ready to send troops to guarantee the peace, and that planning for "
    "the reassurance force had reached an advanced stage after weeks of talks among the chiefs of defence staff of "
    "more than thirty countries in Paris and London."
)


def test_table_names_wraps_groups_joint_statements_and_marks_inferred_sides(keyword_model, registry, tmp_path):
    text = JOINT + " Russian Deputy Foreign Minister Alexander Grushko said a truce was out of the question."
    (tmp_path / "joint.txt").write_text(text, encoding="utf-8")
    corpus = score_corpus(tmp_path, model=keyword_model, registry=registry)
    results = list(corpus)
    out = io.StringIO()
    w = make_writer("table", out, keyword_model.topic_ids, registry=registry)
    for r in results:
        w.article(r)
    w.finish(corpus)
    got = out.getvalue()
    flat = " ".join(got.split())
    # Display names from the registry (and a new actor's own name), not ids.
    for name in ("Emmanuel Macron", "Keir Starmer", "Friedrich Merz", "Alexander Grushko"):
        assert name in got
    assert "│ macron" not in got
    # The long sentence is wrapped whole, not cut with an ellipsis.
    assert " ".join(JOINT.split()) in flat.replace("… ", "") and "…" not in got
    assert max(len(line) for line in got.splitlines()) <= 120
    # The joint statement is one evidence entry listing its three holders.
    evidence = got[got.index("evidence") :]
    assert evidence.count("to send troops to guarantee") == 1
    joint = next(line for line in evidence.splitlines() if "security_guarantees" in line)
    assert all(name in joint for name in ("Emmanuel Macron", "Keir Starmer", "Friedrich Merz"))
    # Grushko's side comes from his title, and the table says so.
    assert "russia*" in got and "side inferred" in got
