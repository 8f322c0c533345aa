"""`stance score`: formats, --out, stdin, exit codes and one clear line per bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.pipeline.scoring import FINDING_KEYS


@pytest.fixture()
def cli(tiny_model_dir, tiny_labels):
    runner = CliRunner()

    def run(*args, input=None):
        result = runner.invoke(
            app,
            [
                "score",
                "--model",
                str(tiny_model_dir),
                "--labels",
                str(tiny_labels),
                *map(str, args),
            ],
            input=input,
        )
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    return run


def _lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_jsonl_is_the_default_off_a_terminal(cli, examples_dir):
    result = cli(examples_dir / "wire_report.txt")
    assert result.exit_code == 0, result.stderr
    findings = _lines(result)
    assert findings and all(list(f)[:12] == list(FINDING_KEYS) for f in findings)
    assert {f["article"] for f in findings} == {str(examples_dir / "wire_report.txt")}
    assert {f["date"] for f in findings} == {"2025-11-18"}
    assert all(f["topic"] != "none" for f in findings)


def test_every_format(cli, examples_dir, tmp_path):
    paths = [examples_dir / "oped.txt", examples_dir / "corpus.jsonl"]
    table = cli("--format", "table", *paths)
    assert table.exit_code == 0 and "evidence" in table.stdout and "corpus: 5 articles" in table.stdout
    rows = list(csv.DictReader(io.StringIO(cli("--format", "csv", *paths).stdout)))
    assert rows and set(FINDING_KEYS) <= set(rows[0])
    doc = json.loads(cli("-f", "json", *paths).stdout)
    assert len(doc["articles"]) == 5 and doc["corpus"]["articles"] == 5
    bad = cli("--format", "xml", *paths)
    assert bad.exit_code == 2 and "--format 'xml'" in bad.stderr


def test_out_file_is_written_whole_and_format_follows_the_suffix(cli, examples_dir, tmp_path):
    out = tmp_path / "scores.csv"
    result = cli(examples_dir / "interview.txt", "--out", out)
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("article,sentence,text,actor")
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_stdin_with_a_date(cli):
    result = cli("-", "--date", "2025-04-01", input="Peskov said a ceasefire now would be a trap.\n")
    assert result.exit_code == 0
    assert {(f["article"], f["actor"], f["date"]) for f in _lines(result)} == {("<stdin>", "peskov", "2025-04-01")}
    assert cli("-", "--date", "April", input="x").exit_code == 2


def test_min_confidence(cli, examples_dir):
    low = _lines(cli(examples_dir / "wire_report.txt"))
    high = _lines(cli(examples_dir / "wire_report.txt", "--min-confidence", "0.5"))
    assert len(high) < len(low) and all(f["confidence"] >= 0.5 for f in high)


def test_some_inputs_fail_exit_1_with_one_line_each(cli, examples_dir, tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
    result = cli(
        tmp_path / "empty.txt",
        tmp_path / "blob.txt",
        tmp_path / "missing.txt",
        examples_dir / "wire_report.txt",
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 3
    assert any("empty.txt: error: empty file" in e for e in errors)
    assert any("blob.txt: error: binary file" in e for e in errors)
    assert any("missing.txt: error: no such file" in e for e in errors)
    assert "3 input(s) failed; scored 1 article(s)" in result.stderr
    assert _lines(result)  # the good article was still scored


def test_nothing_scored_is_exit_2_and_leaves_out_alone(cli, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    result = cli(tmp_path / "missing.txt", "--out", out)
    assert result.exit_code == 2 and "nothing could be scored" in result.stderr
    assert out.read_text(encoding="utf-8") == "previous\n"


def test_non_utf8_is_a_warning_not_a_failure(cli, tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Zelensky said Kyiv would never give up the r\xe9gion.".encode("latin-1"))
    result = cli(path)
    assert result.exit_code == 0
    assert "latin.txt: warning: not valid UTF-8" in result.stderr


def test_malformed_jsonl_line_with_and_without_strict(cli, tmp_path):
    path = tmp_path / "corpus.jsonl"
    good = json.dumps({"id": "g", "text": "Lavrov rejected any European troops in Ukraine."})
    path.write_text(f"{good}\n{{oops\n{good}\n", encoding="utf-8")
    result = cli(path)
    assert result.exit_code == 1
    assert f"{path}:2: error: invalid JSON" in result.stderr
    assert len({(f["article"], f["sentence"]) for f in _lines(result)}) >= 1
    out = tmp_path / "strict.jsonl"
    strict = cli(path, "--strict", "--out", out)
    assert strict.exit_code == 2 and f"{path}:2" in strict.stderr and "--strict" in strict.stderr
    assert not out.exists()
    assert len(strict.stderr.strip().splitlines()) == 1


def test_big_file_is_cut_and_scored(cli, tmp_path):
    path = tmp_path / "big.txt"
    para = "Peskov said a truce now would be a trap, and Zelensky said Kyiv would never cede land. " * 4
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < 50 * 2**20:
            fh.write((para + "\n\n") * 500)
    result = cli(path, "--max-chars", "20000")
    assert result.exit_code == 0
    assert "big.txt: warning: too long for one article (52." in result.stderr
    assert max(f["end"] for f in _lines(result)) <= 20000


def test_missing_and_broken_model(tiny_labels, examples_dir, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(
        app,
        [
            "score",
            "--model",
            str(tmp_path / "none"),
            "--labels",
            str(tiny_labels),
            str(examples_dir / "oped.txt"),
        ],
    )
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert missing.stderr.startswith("stance: error: model not found")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "classifier.json").write_text('{"family": "baseline", "topics": {}, "params": {}}')
    result = runner.invoke(
        app,
        [
            "score",
            "--model",
            str(broken),
            "--labels",
            str(tiny_labels),
            str(examples_dir / "oped.txt"),
        ],
    )
    assert result.exit_code == 2 and result.stderr.startswith("stance: error: cannot load model")
    assert "Traceback" not in result.stderr


def test_help_stays_light():
    code = (
        "import sys, stance.cli\n"
        "names = ('spacy', 'mlflow', 'torch', 'trafilatura', 'sklearn', 'transformers')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_duplicate_article_ids_are_refused_not_merged(cli, tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "a", "text": "Lavrov rejected any European troops in Ukraine."},
        {"id": "a", "text": "Zelensky said Ukraine was ready for a ceasefire."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = cli(path)
    assert result.exit_code == 1
    expected = f"{path}:2: error: duplicate article id 'a' (first at line 1); give each article a unique id"
    assert expected in result.stderr
    assert {f["text"] for f in _lines(result)} <= {rows[0]["text"]}


def test_sigterm_during_score_out_leaves_no_temporary_file(tmp_path, tiny_model_dir, tiny_labels, cli_env):
    """A scheduler's SIGTERM cleans up like Ctrl-C: no hidden .tmp, no half-written --out."""
    import signal
    import time

    corpus = tmp_path / "corpus.jsonl"
    line = "Zelensky said Ukraine was ready for a ceasefire. Putin rejected any truce on Monday."
    corpus.write_text("".join(json.dumps({"id": f"a{i}", "text": line}) + "\n" for i in range(20000)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "findings.jsonl"
    args = ["score", corpus, "--out", out, "--model", tiny_model_dir, "--labels", tiny_labels]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stance.cli", *map(str, args)],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None and not list(out_dir.glob(".findings.jsonl.*.tmp")):
        time.sleep(0.2)
    time.sleep(1.0)  # let it write a while
    assert proc.poll() is None, proc.communicate()
    assert list(out_dir.glob(".findings.jsonl.*.tmp"))
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a hung process behind a failed test
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert list(out_dir.iterdir()) == []


def test_model_loading_is_announced_on_a_terminal(tiny_model_dir, monkeypatch):
    """What is loaded goes to stderr on a terminal; off one, stderr keeps one line per problem."""
    import logging

    from stance.cli.app import announce_loading
    from stance.tracking import load_classifier

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    announce_loading()
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    load_classifier(tiny_model_dir)
    lines = terminal.getvalue().splitlines()
    assert lines[0] == f"stance: loading model {tiny_model_dir}"
    assert lines[1].startswith("stance: model: baseline, topics ceasefire")
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    logging.getLogger("stance.tracking").info("loading model x")
    assert pipe.getvalue() == ""
