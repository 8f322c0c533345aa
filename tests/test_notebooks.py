"""The notebooks run top to bottom on tiny inputs, in a kernel of this interpreter.

Parameters are injected the papermill way: a cell after the one tagged ``parameters``
overrides its values. The kernel inherits this process's environment, so the tiny
MLflow store set here is the store the notebook reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LABELS = ROOT / "tests" / "fixtures" / "labels_custom"
EXPERIMENT = "notebook-test"
PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module", autouse=True)
def venv_kernel(tmp_path_factory):
    """A ``python3`` kernelspec that runs this interpreter (the venv's), found first.

    JUPYTER_PATH comes before the user's own kernelspecs, so a ``python3`` kernel of
    another Python on the machine cannot take over.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "stance tests", "language": "python"}), encoding="utf-8"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(root))
    # Figures must render inline (image/png outputs), whatever backend the shell chose.
    mp.delenv("MPLBACKEND", raising=False)
    yield
    mp.undo()


def run_notebook(name: str, cwd: Path, **params) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items())))
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def outputs(nb, mime: str | None = None) -> list:
    """Every output of the executed notebook, or the data of one MIME type."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if mime is None:
                found.append(out.get("text") or out.get("data", {}).get("text/plain", ""))
            elif mime in out.get("data", {}):
                found.append(out["data"][mime])
    return found


def text_of(nb) -> str:
    return "\n".join(outputs(nb))


@pytest.mark.parametrize("name", ["01_labels.ipynb", "02_compare_runs.ipynb", "03_positions.ipynb"])
def test_notebooks_are_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_01_labels(tmp_path):
    nb = run_notebook("01_labels.ipynb", tmp_path, LABELS_DIR=str(LABELS))
    text = text_of(nb)
    # The custom topics, not the project's: the parameter was used.
    assert "nato_membership" in text and "territory" not in text
    assert "labels_custom: 40 items" in text
    for case in (
        "two holders, one sentence",
        "the author's own voice",
        "negated position",
        "holder not named in the sentence",
        "topic word, no position",
    ):
        assert case in text, case
    assert len(outputs(nb, "image/png")) >= 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny baseline trained into a temporary store and exported, like `make train`."""
    tmp = tmp_path_factory.mktemp("store")
    config = tmp / "tiny-baseline.yaml"
    config.write_text(
        "name: tiny-nb-baseline\nfamily: baseline\nseed: 3\nparams: {max_features: 2000, char_ngrams: [3, 4]}\n",
        encoding="utf-8",
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    mp.setattr("stance.tracking.artifact_root", lambda: (tmp / "artifacts").as_uri())
    from stance.training.train import train

    result = train(labels_dir=LABELS, configs=[config], experiment=EXPERIMENT, export_dir=tmp / "champion")
    yield result, tmp
    mp.undo()


def test_02_compare_runs(tmp_path, trained):
    result, store = trained
    family_run = result.results[0].run_id
    nb = run_notebook(
        "02_compare_runs.ipynb", tmp_path, EXPERIMENT=EXPERIMENT, TRACKING_URI=f"sqlite:///{store / 'mlflow.db'}"
    )
    text = text_of(nb)
    assert f"comparing parent {result.parent_run_id}" in text
    assert "tiny-nb-baseline" in text and "dev_macro_f1" in text
    assert family_run in text  # the run to open in the UI
    assert "champion: models:/stance-classifier@champion = version 1" in text
    # Per-class F1, the confusion matrix read back from the store, speed vs quality.
    assert len(outputs(nb, "image/png")) >= 3
    assert "no confusion matrix" not in text


ARTICLES = {
    "a1.txt": "date 2025-03-03\n\nZelensky said on Monday that Ukraine was ready for a full "
    "ceasefire in the air and at sea. Putin dismissed the truce as a ploy to let Kyiv "
    "regroup. Trump wrote that both sides should stop the killing now.\n",
    "a2.txt": "date 2025-03-17\n\nZelensky said Ukraine's future was in NATO, whatever Moscow "
    "claims. Moscow said it would never accept Ukraine in the alliance. Trump said "
    "Ukraine would never be in NATO.\n",
    "a3.txt": "date 2025-04-02\n\nTrump said a ceasefire could be agreed within days. Putin said "
    "any truce now would only help Kyiv rearm.\n",
}


def test_03_positions(tmp_path, trained):
    _, store = trained
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    html = tmp_path / "positions.html"
    nb = run_notebook(
        "03_positions.ipynb",
        tmp_path,
        INPUTS=[str(corpus)],
        MODEL=str(store / "champion"),
        LABELS_DIR=str(LABELS),
        REPORT_HTML=str(html),
    )
    figures = outputs(nb, PLOTLY)
    kinds = [fig["data"][0]["type"] for fig in figures]
    assert kinds[:2] == ["heatmap", "bar"]  # actor x topic, then the side roll-up
    assert len(figures) >= 3 and all(k == "scatter" for k in kinds[2:])  # timelines
    # Each plotly figure carries a static PNG, so an exported notebook is never blank.
    plotly_outputs = [o["data"] for c in nb.cells for o in c.get("outputs", []) if PLOTLY in o.get("data", {})]
    assert plotly_outputs and all("image/png" in data for data in plotly_outputs)
    heatmap = figures[0]["data"][0]
    assert set(heatmap["x"]) <= {"ceasefire", "nato_membership"}
    assert any("Volodymyr Zelensky" in y for y in heatmap["y"])
    text = text_of(nb)
    assert "articles" in text and "2025-04-02" in text
    assert html.exists() and 'id="heatmap"' in html.read_text(encoding="utf-8")
