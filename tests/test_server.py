"""The labelling loop against a real Label Studio server on a loopback port.

suggest on examples/ → project with our config → import the tasks → post annotations
through the API → export → `stance labels import` into a fresh labels folder →
`stance labels check`. The server is the one `make install` puts in .venv-label-studio
(found as `make label` finds it); it starts from the migrated template database.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from stance.cli import app
from stance.labels.server import LabelStudio, free_port
from stance.labels.studio import PROJECT_TITLE

pytestmark = pytest.mark.slow


def _choice(name, value):
    return {"from_name": name, "to_name": "sentence", "type": "choices", "value": {"choices": [value]}}


def test_round_trip_through_label_studio(tiny_labels, tiny_model_dir, examples_dir, tmp_path):
    runner = CliRunner()
    tasks_file = tmp_path / "tasks.json"
    suggested = runner.invoke(
        app,
        ["labels", "suggest", str(examples_dir), "--n", "6", "--per-article", "2", "--model", str(tiny_model_dir)]
        + ["--labels", str(tiny_labels), "--out", str(tasks_file)],
    )
    assert suggested.exit_code == 0, suggested.output
    tasks = json.loads(tasks_file.read_text())
    assert len(tasks) == 6 and all(t["predictions"][0]["result"] for t in tasks)
    config = runner.invoke(app, ["labels", "config", "--labels", str(tiny_labels)])
    assert config.exit_code == 0 and "<View>" in config.output

    with LabelStudio(tmp_path / "studio", port=free_port()) as studio:
        client = studio.client()
        project = client.project(PROJECT_TITLE, config.output)
        assert client.project(PROJECT_TITLE, config.output)["id"] == project["id"]  # opened, not created twice
        assert client.import_tasks(project["id"], tasks) == 6
        stored = sorted(client.tasks(project["id"]), key=lambda t: t["id"])
        assert len(stored) == 6 and all(t["total_predictions"] == 1 for t in stored)
        first, second = stored[0], stored[1]
        client.annotate(
            first["id"], [_choice("holder_1", "author"), _choice("topic_1", "ceasefire"), _choice("stance_1", "oppose")]
        )
        new_holder = {"from_name": "new_holder_1", "to_name": "sentence", "type": "textarea"}
        client.annotate(
            second["id"],
            [{**new_holder, "value": {"text": ["Mira Testova"]}}, _choice("topic_1", "territory")]
            + [_choice("stance_1", "support")],
        )
        export = client.export(project["id"])
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(export))

    fresh = tmp_path / "labels"
    fresh.mkdir()
    for name in ("topics.yaml", "actors.yaml"):
        shutil.copy(tiny_labels / name, fresh / name)
    imported = runner.invoke(app, ["labels", "import", str(export_file), "--labels", str(fresh)])
    assert imported.exit_code == 0, imported.output
    assert "added 1 items (1 sentences, 1 documents" in imported.output, imported.output
    assert "4 task(s) not annotated" in imported.output, imported.output
    assert "mira_testova" in imported.output  # held back, proposed for review
    checked = runner.invoke(app, ["labels", "check", "--labels", str(fresh)])
    assert checked.exit_code == 0, checked.output
    items = [json.loads(line) for line in (fresh / "positions.jsonl").read_text().splitlines()]
    assert [(i["text"], i["actor"], i["topic"], i["stance"]) for i in items] == [
        (first["data"]["text"], "author", "ceasefire", "oppose")
    ]
    assert "mira_testova" not in (fresh / "actors.yaml").read_text()  # never merged silently
    proposed = yaml.safe_load((fresh / "actors.proposed.yaml").read_text())["actors"]
    assert proposed == [
        {"id": "mira_testova", "name": "Mira Testova", "side": "other", "role": "", "aliases": ["Mira Testova"]}
    ]

    again = runner.invoke(app, ["labels", "import", str(export_file), "--labels", str(fresh)])
    assert again.exit_code == 0 and "nothing new" in again.output and "already imported" in again.output

    # The reviewer accepts the proposed actor: the held-back sentence comes in on the next import.
    with (fresh / "actors.yaml").open("a") as fh:
        fh.write("- id: mira_testova\n  name: Mira Testova\n  side: other\n  role: analyst\n  aliases: [Testova]\n")
    third = runner.invoke(app, ["labels", "import", str(export_file), "--labels", str(fresh)])
    assert third.exit_code == 0 and "added 1 items" in third.output, third.output
    assert runner.invoke(app, ["labels", "check", "--labels", str(fresh)]).exit_code == 0
    manifest = [json.loads(line) for line in (fresh / "imports.jsonl").read_text().splitlines()]
    assert len(manifest) == 2 and all(m["export"] == "export.json" for m in manifest)
