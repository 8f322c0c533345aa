"""Label Studio config, export reading and `stance labels import` (without a server; the
round trip through a real one is tests/test_server.py)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.labels import check
from stance.labels.imports import import_export, read_manifest, split_of
from stance.labels.registry import Registry
from stance.labels.studio import SLOTS, labelling_config, prediction_result, read_export
from stance.labels.studio import Position as P

SENTS = [
    "Kyiv rejected any ceasefire that froze the front line, officials said.",
    "Moscow said it would welcome a pause in the fighting.",
    "The talks resume next week in Geneva.",
]


def _choice(name, value):
    return {"from_name": name, "to_name": "sentence", "type": "choices", "value": {"choices": [value]}}


def _task(tid, sent, result, article="news/one.txt"):
    data = {
        "article": article,
        "sent": sent,
        "text": SENTS[sent],
        "context": SENTS[sent - 1] if sent else "",
        "title": "One",
        "date": "2025-11-03",
    }
    return {"id": tid, "data": data, "annotations": [{"id": tid, "result": result, "was_cancelled": False}]}


def _slot(k, holder, topic, stance):
    return [_choice(f"holder_{k}", holder), _choice(f"topic_{k}", topic), _choice(f"stance_{k}", stance)]


@pytest.fixture()
def fresh(tiny_labels, tmp_path):
    out = tmp_path / "labels"
    out.mkdir()
    for name in ("topics.yaml", "actors.yaml"):
        shutil.copy(tiny_labels / name, out / name)
    return out


def _write(tmp_path, tasks, name="export.json"):
    path = tmp_path / name
    path.write_text(json.dumps(tasks))
    return path


def test_config_lists_every_topic_and_actor(tiny_labels, tmp_path):
    registry = Registry.load(tiny_labels)
    root = ET.fromstring(labelling_config(registry))
    holders = root.find(".//Choices[@name='holder_1']")
    assert {c.get("alias") for c in holders} == set(registry.actors)
    assert [c.get("value") for c in root.find(".//Choices[@name='topic_1']")] == registry.topic_ids
    assert root.find(f".//Choices[@name='stance_{SLOTS}']") is not None
    # A user's new topic appears in the interface.
    custom = tmp_path / "custom"
    custom.mkdir()
    shutil.copy(tiny_labels / "actors.yaml", custom / "actors.yaml")
    topics = (
        tiny_labels / "topics.yaml"
    ).read_text() + "  - id: nato_membership\n    proposition: Ukraine should join NATO.\n"
    (custom / "topics.yaml").write_text(topics)
    out = tmp_path / "config.xml"
    result = CliRunner().invoke(app, ["labels", "config", "--labels", str(custom), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "nato_membership" in [c.get("value") for c in ET.parse(out).getroot().find(".//Choices[@name='topic_2']")]


def test_prediction_result_reads_back_as_the_same_positions():
    positions = [P("zelensky", "ceasefire", "oppose"), P("", "territory", "support", "Mira Testova")]
    annotated, problems, _ = read_export(
        [{"id": 1, "data": _task(1, 0, [])["data"], "annotations": [{"result": prediction_result(positions)}]}], "x"
    )
    assert not problems and annotated[0].positions == positions
    annotated, _, _ = read_export([_task(2, 2, prediction_result([]))], "x")
    assert annotated[0].positions == []


def test_import_adds_documents_splits_and_manifest(fresh, tmp_path):
    tasks = [
        _task(1, 0, _slot(1, "ukraine", "ceasefire", "oppose")),
        _task(2, 1, _slot(1, "russia", "ceasefire", "support") + _slot(2, "author", "ceasefire", "neutral")),
        _task(3, 2, [_choice("no_position", "none")], article="news/two.txt"),
        {"id": 4, "data": _task(4, 2, [])["data"], "annotations": []},
    ]
    report = import_export(_write(tmp_path, tasks), fresh)
    assert (report.items, report.sentences, report.unlabelled) == (4, 3, 1)
    assert check(fresh) == []
    items = [json.loads(line) for line in (fresh / "positions.jsonl").read_text().splitlines()]
    docs = {i["doc"] for i in items}
    assert len(docs) == 2  # sentences 0-1 of one.txt are one document
    assert {i["split"] for i in items if i["doc"].startswith("news_one")} == {split_of("news/one.txt")}
    second = [i for i in items if i["sent"] == 1]
    assert second[0]["context"] == SENTS[0] and {i["actor"] for i in second} == {"russia", "author"}
    manifest = read_manifest(fresh)
    assert manifest[0]["import"] == report.import_id and manifest[0]["items"] == 4
    assert {tuple(t) for t in manifest[0]["tasks"]} == {("news/one.txt", 0), ("news/one.txt", 1), ("news/two.txt", 2)}


def test_import_refuses_duplicates_and_skips_already_imported(fresh, tmp_path):
    export = _write(tmp_path, [_task(1, 0, _slot(1, "ukraine", "ceasefire", "oppose"))])
    assert import_export(export, fresh).items == 1
    again = import_export(export, fresh)
    assert again.items == 0 and "already imported" in again.duplicates[0]
    # The same sentence from another article (or a re-made task) is refused too.
    other = _write(tmp_path, [_task(7, 0, _slot(1, "ukraine", "ceasefire", "oppose"), article="x")], "other.json")
    refused = import_export(other, fresh)
    assert refused.items == 0 and "already labelled" in refused.duplicates[0]
    assert len((fresh / "positions.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([_choice("holder_1", "ukraine"), _choice("topic_1", "ceasefire")], "position 1: no stance"),
        ([_choice("topic_1", "ceasefire"), _choice("stance_1", "oppose")], "position 1: no holder"),
        (_slot(1, "nobody_known", "ceasefire", "oppose"), "unknown actor 'nobody_known'"),
        (_slot(1, "ukraine", "ceasefire", "oppose") + _slot(2, "ukraine", "ceasefire", "support"), "already has"),
        (_slot(1, "ukraine", "ceasefire", "oppose") + [_choice("no_position", "none")], "holds no position"),
    ],
)
def test_bad_export_is_located_exits_2_and_writes_nothing(fresh, tmp_path, result, message):
    good = _task(1, 0, _slot(1, "ukraine", "ceasefire", "oppose"))
    export = _write(tmp_path, [good, _task(2, 1, result)])
    before = sorted(p.name for p in fresh.iterdir())
    run = CliRunner().invoke(app, ["labels", "import", str(export), "--labels", str(fresh)])
    assert run.exit_code == 2
    line = run.output.strip().splitlines()[-1]
    assert line.startswith(f"stance: error: {export}:2: task 2") and message in line, run.output
    assert sorted(p.name for p in fresh.iterdir()) == before  # nothing written


def test_not_an_export(fresh, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    run = CliRunner().invoke(app, ["labels", "import", str(path), "--labels", str(fresh)])
    assert run.exit_code == 2 and f"{path}:0: not JSON" in run.output
    path.write_text(json.dumps([{"id": 1, "data": {"text": "hello"}, "annotations": []}]))
    run = CliRunner().invoke(app, ["labels", "import", str(path), "--labels", str(fresh)])
    assert run.exit_code == 2 and "data lacks article, sent, context" in run.output


def test_mlflow_records_the_imports_of_a_dataset(fresh, tmp_path, monkeypatch):
    import mlflow

    from stance import tracking
    from stance.labels import LabelSet

    import_export(_write(tmp_path, [_task(1, 0, _slot(1, "ukraine", "ceasefire", "oppose"))]), fresh)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr("stance.tracking.artifact_root", lambda: (tmp_path / "artifacts").as_uri())
    tracking.setup("imports-test")
    with tracking.run("dataset") as run:
        tracking.log_dataset(LabelSet.load(fresh))
    tags = mlflow.get_run(run.info.run_id).data.tags
    last = read_manifest(fresh)[-1]
    assert tags["labels.last_import"] == last["import"] == tags["labels.imports"]
    assert tags["labels.imported_items"] == "1" and "export.json" in tags["labels.last_import_export"]
