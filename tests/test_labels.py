"""labels.py: validation with file:line for each fault, splits, stats, and the corpus minimums."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import LabelsError
from stance.labels import LabelSet, assign_splits, check, resplit, stats

FIXTURE = Path(__file__).parent / "fixtures" / "labels_custom"
CORPUS = Path(__file__).resolve().parents[1] / "labels"


@pytest.fixture
def labels_dir(tmp_path: Path) -> Path:
    target = tmp_path / "labels"
    shutil.copytree(FIXTURE, target)
    return target


def _lines(d: Path) -> list[str]:
    return (d / "positions.jsonl").read_text(encoding="utf-8").splitlines()


def _write(d: Path, lines: list[str]) -> None:
    (d / "positions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _edit(d: Path, line_no: int, **changes) -> None:
    lines = _lines(d)
    row = json.loads(lines[line_no - 1])
    row.update(changes)
    lines[line_no - 1] = json.dumps(row)
    _write(d, lines)


def _messages(d: Path) -> list[str]:
    return [str(p) for p in check(d)]


def test_fixture_is_valid(labels_dir):
    assert check(labels_dir) == []


def test_invalid_json_reports_line(labels_dir):
    lines = _lines(labels_dir)
    lines[4] = lines[4][:-5]
    _write(labels_dir, lines)
    msgs = _messages(labels_dir)
    assert any(m.startswith(f"{labels_dir / 'positions.jsonl'}:5: invalid JSON") for m in msgs), msgs


@pytest.mark.parametrize(
    "changes, line, needle",
    [
        ({"topic": "nato"}, 3, "unknown topic 'nato'"),
        ({"stance": "against"}, 3, "stance"),
        ({"actor": "putn"}, 1, "unknown actor 'putn'"),
        ({"actor": "zelensky"}, 3, "topic 'none' needs an empty actor"),
        ({"actor": ""}, 1, "needs an actor"),
        ({"split": "test"}, 2, "a document belongs to one split"),
        ({"context": "Not the previous sentence."}, 2, "context of doc"),
        ({"colour": "red"}, 6, "colour"),
    ],
)
def test_each_fault_has_its_line(labels_dir, changes, line, needle):
    _edit(labels_dir, line, **changes)
    msgs = _messages(labels_dir)
    prefix = f"{labels_dir / 'positions.jsonl'}:{line}:"
    assert any(m.startswith(prefix) and needle in m for m in msgs), msgs


def test_duplicate_id_points_at_second_line(labels_dir):
    lines = _lines(labels_dir)
    first = json.loads(lines[0])
    _edit(labels_dir, 7, id=first["id"])
    msgs = _messages(labels_dir)
    assert any(m.startswith(f"{labels_dir / 'positions.jsonl'}:7: duplicate id") and "line 1" in m for m in msgs), msgs


def test_doc_sent_that_disagrees_with_text(labels_dir):
    lines = _lines(labels_dir)
    row = json.loads(lines[0])
    row.update(id="extra", actor="trump", text="Trump said something else entirely.")
    _write(labels_dir, lines + [json.dumps(row)])
    msgs = _messages(labels_dir)
    last = len(lines) + 1
    assert any(
        m.startswith(f"{labels_dir / 'positions.jsonl'}:{last}:") and "disagrees with text" in m for m in msgs
    ), msgs


def test_missing_sentence_is_reported(labels_dir):
    lines = [ln for ln in _lines(labels_dir) if json.loads(ln)["id"] != "c1-4-0"]
    _write(labels_dir, lines)
    assert any("has no sentence 4" in m for m in _messages(labels_dir))


def test_registry_faults(labels_dir):
    (labels_dir / "actors.yaml").write_text(
        "actors:\n  - {id: putin, name: Putin, side: russia}\n  - {id: putin, name: Again, side: russia}\n"
        "  - {id: Bad-Id, name: X, side: russia}\n  - {id: x, name: X, side: mars}\n",
        encoding="utf-8",
    )
    msgs = _messages(labels_dir)
    actors = labels_dir / "actors.yaml"
    assert any(m.startswith(f"{actors}:3: duplicate id 'putin'") for m in msgs), msgs
    assert any(m.startswith(f"{actors}:4: id") for m in msgs), msgs
    assert any(m.startswith(f"{actors}:5: side") for m in msgs), msgs


def test_missing_files(tmp_path):
    msgs = _messages(tmp_path)
    assert any("topics.yaml:0: file missing" in m for m in msgs)
    assert any("positions.jsonl:0: file missing" in m for m in msgs)


def test_cli_check_exit_codes(labels_dir):
    runner = CliRunner()
    ok = runner.invoke(app, ["labels", "check", "--labels", str(labels_dir)])
    assert ok.exit_code == 0, ok.output
    _edit(labels_dir, 3, topic="nato")
    bad = runner.invoke(app, ["labels", "check", "--labels", str(labels_dir)])
    assert bad.exit_code == 2
    assert f"{labels_dir / 'positions.jsonl'}:3: unknown topic" in bad.output


def test_loading_invalid_labels_raises_one_line_error(labels_dir):
    _edit(labels_dir, 3, topic="nato")
    with pytest.raises(LabelsError) as exc:
        LabelSet.load(labels_dir)
    assert "\n" not in str(exc.value)


def test_frames_follow_the_registry_topics(labels_dir):
    ls = LabelSet.load(labels_dir)
    assert ls.registry.topic_ids == ["ceasefire", "nato_membership"]
    sentences = ls.sentences("train")
    assert list(sentences.columns[-2:]) == ["ceasefire", "nato_membership"]
    assert len(sentences) == 20
    assert set(ls.positions()["topic"]) == {"ceasefire", "nato_membership"}


def test_assign_splits_is_deterministic_by_document(labels_dir):
    items = LabelSet.load(labels_dir).items
    a = assign_splits(items, seed=3)
    b = assign_splits(items, seed=3)
    assert a == b
    assert set(a) == set(items["doc"])


def test_resplit_keeps_file_valid(labels_dir):
    counts = resplit(labels_dir, seed=5)
    assert sum(counts.values()) == 4
    assert check(labels_dir) == []


def _doc_splits(d: Path) -> dict[str, str]:
    return {json.loads(line)["doc"]: json.loads(line)["split"] for line in _lines(d)}


def test_resplit_only_moves_the_named_documents(labels_dir):
    before = _doc_splits(labels_dir)
    new = sorted(before)[-1]
    # Every other document is moved to train by hand: a full re-split would move some back.
    _write(
        labels_dir,
        [
            json.dumps({**json.loads(line), "split": "train"}) if json.loads(line)["doc"] != new else line
            for line in _lines(labels_dir)
        ],
    )
    resplit(labels_dir, seed=5, only=[new])
    after = _doc_splits(labels_dir)
    assert {d: s for d, s in after.items() if d != new} == {d: "train" for d in before if d != new}
    assert after[new] in ("train", "dev", "test")
    runner = CliRunner()
    bad = runner.invoke(app, ["labels", "split", "--labels", str(labels_dir), "--only", f"{new},d999"])
    assert bad.exit_code == 2
    assert "no items for document(s) d999" in bad.output
    assert _doc_splits(labels_dir) == after  # nothing written


def test_corpus_meets_the_minimums():
    ls = LabelSet.load(CORPUS)
    s = stats(ls)
    items = ls.items
    assert len(items) >= 2000
    assert items["doc"].nunique() >= 80
    ts = s["topic x stance"]
    for topic in ls.registry.topic_ids:
        assert ts.loc[topic, "support"] >= 150 and ts.loc[topic, "oppose"] >= 150, topic
        assert ts.loc[topic, "neutral"] > 0, topic
    assert ls.positions()["actor"].nunique() >= 30
    assert s["summary"].loc["share without a position", "value"] >= 1 / 3 - 0.01
    sizes = items.groupby("doc")["sent"].max() + 1
    assert sizes.between(10, 40).all()
    # every topic and stance in every split; no document in two splits
    assert items.groupby("doc")["split"].nunique().max() == 1
    pos = ls.positions()
    for split in ("train", "dev", "test"):
        present = set(zip(pos[pos["split"] == split]["topic"], pos[pos["split"] == split]["stance"]))
        assert len(present) == 3 * len(ls.registry.topic_ids), split
    share = items.drop_duplicates(["doc", "sent"])["split"].value_counts(normalize=True)
    assert 0.6 <= share["train"] <= 0.8


def test_find_name_matches_whole_names_and_capitals_as_written():
    from stance.labels.registry import Registry

    reg = Registry.load(CORPUS)
    assert reg.find_name("President Zelensky rejected the plan.", "zelensky") == "President Zelensky"
    assert reg.find_name("The US backs it.", "united_states") == "The US"
    # "us" is a pronoun, not the United States; "Ukrainian" is not "Ukraine".
    assert reg.find_name("For us they are a party to the war.", "united_states") == ""
    assert reg.find_name("Ukrainian troops held the line.", "ukraine") == ""
    assert reg.find_name("It was said.", "author") == ""
    labels = LabelSet.load(FIXTURE)
    pos = labels.positions()
    named = [(t, n) for t, n in zip(pos["text"], pos["holder_name"]) if n]
    assert named and all(n in t for t, n in named)  # as the sentence writes it
