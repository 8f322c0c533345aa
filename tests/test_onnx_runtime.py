"""models/onnx_runtime.py: the int8 ONNX copy of a transformer scores like PyTorch and loads by default."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stance.config import STANCES
from stance.errors import StanceError
from stance.labels import LabelSet
from stance.models.base import StanceClassifier
from stance.models.onnx_runtime import ONNX_FILE, ONNX_META, OnnxEncoder, has_onnx, sentence_pairs
from stance.models.transformer import TransformerClassifier

LABELS = Path(__file__).parent / "fixtures" / "labels_custom"
TINY = {"epochs": 1, "batch_size": 8, "max_length": 64, "max_train_items": 40, "seed": 7, "num_layers": 2}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    clf = TransformerClassifier(topics, {**TINY, "inference_dtype": "float32"})
    clf.fit(labels.sentences("train"), labels.positions("train"))
    folder = clf.save(tmp_path_factory.mktemp("onnx") / "model")
    return clf, folder, labels


def test_saved_folder_has_int8_model_and_loads_it_by_default(exported):
    _, folder, _ = exported
    assert has_onnx(folder) and (folder / ONNX_FILE).stat().st_size > 1_000_000
    loaded = StanceClassifier.load(folder)
    assert loaded.runtime == "onnx" and loaded.model is None  # torch weights are not even read


def test_int8_predictions_close_to_torch(exported):
    clf, folder, labels = exported
    onnx = StanceClassifier.load(folder)
    sentences = labels.sentences()
    items = labels.positions()
    # int8 moves a probability by about 0.01 on average, rarely by more than 0.1.
    t_topics, o_topics = clf.predict_topics(sentences), onnx.predict_topics(sentences)
    assert np.abs(t_topics - o_topics).mean() < 0.03 and np.abs(t_topics - o_topics).max() < 0.15
    t_stance, o_stance = clf.predict_stance(items), onnx.predict_stance(items)
    assert np.abs(t_stance - o_stance).mean() < 0.03 and np.abs(t_stance - o_stance).max() < 0.15
    assert (t_stance.argmax(axis=1) == o_stance.argmax(axis=1)).mean() >= 0.85
    assert np.allclose(o_stance.sum(axis=1), 1) and o_stance.shape == (len(items), len(STANCES))


def test_a_sentence_scores_the_same_alone_and_among_others(exported):
    """Dynamic int8 quantisation scales a run's activations by their range over the run: the
    default one sentence per run keeps a score independent of what is scored beside it (an
    article alone, in a corpus, in a Spark partition)."""
    _, folder, labels = exported
    onnx = StanceClassifier.load(folder)
    frame = labels.sentences().head(12)
    together = onnx.predict_topics(frame)
    alone = np.vstack([onnx.predict_topics(frame.iloc[[i]]) for i in range(len(frame))])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(onnx.predict_topics(frame.iloc[::-1])[::-1], together)


def test_parallel_sessions_give_the_same_scores_as_one(exported):
    """Each core's single-threaded session takes a share of the sentences; a sentence runs
    alone either way, so the scores are exactly those of one session, in input order."""
    _, folder, labels = exported
    frame = labels.sentences().head(20)
    texts, contexts = list(frame["text"]), list(frame["context"])
    one, three = OnnxEncoder(folder, threads=1), OnnxEncoder(folder, threads=3)
    assert len(one.sessions) == 1 and len(three.sessions) == 3
    np.testing.assert_array_equal(three.logits(texts, contexts), one.logits(texts, contexts))
    np.testing.assert_array_equal(three.logits(texts, contexts, batch_size=4), one.logits(texts, contexts, 4))
    assert three.logits([], []).shape[0] == 0


def test_tokenizer_matches_transformers(exported):
    clf, folder, _ = exported
    enc = OnnxEncoder(folder)
    texts = ["Zelensky rejected Putin's demand. " * 20, "A truce.", ""]
    contexts = ["", "It rained.", "Previous sentence here."]
    ours = [e.ids for e in enc.encode(texts, contexts)]
    assert ours == clf._encode(texts, contexts)["input_ids"]
    assert max(len(ids) for ids in ours) == TINY["max_length"]  # only the sentence side is cut


def test_context_cut_the_same_in_both_runtimes(exported, monkeypatch):
    """The int8 model reads the previous sentence cut as in training (it once read it whole)."""
    clf, folder, _ = exported
    monkeypatch.setitem(clf.params, "context_words", 3)
    texts, contexts = ["Starmer backed a truce.", "He said so."], ["One two three four five six.", ""]
    assert sentence_pairs(texts, contexts, 3) == ["Starmer backed a truce. [previous] One two three", "He said so."]
    ours = [e.ids for e in OnnxEncoder(folder, context_words=3).encode(texts, contexts)]
    assert ours == clf._encode(texts, contexts)["input_ids"]
    assert ours != [e.ids for e in OnnxEncoder(folder).encode(texts, contexts)]
    # A model trained with a cut writes it down beside the ONNX file, so the folder alone is enough.
    assert "context_words" in json.loads((folder / ONNX_META).read_text())


def test_force_torch_and_bad_runtime(exported, monkeypatch):
    clf, folder, _ = exported
    monkeypatch.setenv("STANCE_RUNTIME", "torch")
    forced = StanceClassifier.load(folder)
    assert forced.runtime == "torch" and forced.model is not None
    frame = pd.DataFrame({"text": ["Starmer backed a truce."], "context": [""]})
    assert np.allclose(forced.predict_topics(frame), clf.predict_topics(frame), atol=1e-5)
    assert forced.use_runtime("onnx") == "onnx" and forced.runtime == "onnx"
    monkeypatch.setenv("STANCE_RUNTIME", "int8")
    with pytest.raises(StanceError, match="runtime 'int8'.*choose one of auto, onnx, torch"):
        StanceClassifier.load(folder)


def test_folder_without_onnx_runs_torch_and_onnx_demand_is_one_line(exported, tmp_path, monkeypatch):
    import shutil

    _, folder, _ = exported
    copy = shutil.copytree(folder, tmp_path / "old")
    (copy / ONNX_FILE).unlink()
    assert StanceClassifier.load(copy).runtime == "torch"
    monkeypatch.setenv("STANCE_RUNTIME", "onnx")
    with pytest.raises(StanceError, match="no model.int8.onnx"):
        StanceClassifier.load(copy)


def test_onnx_load_needs_no_torch(exported):
    import subprocess

    _, folder, _ = exported
    code = (
        "import sys\n"
        "from stance.models.base import StanceClassifier\n"
        f"m = StanceClassifier.load({str(folder)!r})\n"
        "import pandas as pd\n"
        "m.predict_topics(pd.DataFrame({'text': ['A truce now.'], 'context': ['']}))\n"
        "print(m.runtime, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["onnx", "False", "False"]


def test_mlflow_pyfunc_loads_the_onnx_model(exported, tmp_path):
    import mlflow.pyfunc

    from stance import tracking

    clf, folder, _ = exported
    path = tracking.save_model(tmp_path / "mlflow-model", folder, signature=None)
    assert (path / "artifacts" / "model" / ONNX_FILE).exists() or any(path.rglob(ONNX_FILE))
    pyfunc = mlflow.pyfunc.load_model(str(path))
    inner = pyfunc.unwrap_python_model().classifier
    assert inner.runtime == "onnx"
    frame = pd.DataFrame({"text": ["Starmer backed a truce."], "context": [""]})
    out = pyfunc.predict(frame)
    direct = StanceClassifier.load(folder).predict_topics(frame)
    assert np.allclose(out[[f"p_{t}" for t in clf.topic_ids]].to_numpy(), direct, atol=1e-6)


def test_first_attention_block_stays_float(exported, tmp_path):
    import onnx

    from stance.models.onnx_runtime import export_int8

    clf, folder, _ = exported
    ops = [n.op_type for n in onnx.load(str(folder / ONNX_FILE)).graph.node]
    # Two layers (TINY): the first attention block stays float32 (the default), the second is int8.
    assert ops.count("Attention") == 1 and ops.count("QAttention") == 1
    prefix, markers = clf.topic_prefix()
    all_int8 = export_int8(clf.model, clf.tokenizer, prefix, markers, 64, tmp_path, float_attention=0)
    ops = [n.op_type for n in onnx.load(str(all_int8)).graph.node]
    assert ops.count("Attention") == 0 and ops.count("QAttention") == 2


def test_last_layer_runs_on_the_marker_rows_only_and_float_scores_do_not_move(exported, tmp_path):
    """The saved graph gathers the markers' rows after the last attention; in float32 the
    rewritten graph gives the full graph's logits at the markers (int8: the test above)."""
    import shutil

    import onnx
    import onnxruntime as ort

    from stance.models.onnx_runtime import _marker_rows, export_fused, pad_batch

    clf, folder, _ = exported
    meta = json.loads((folder / ONNX_META).read_text())
    nodes = onnx.load(str(folder / ONNX_FILE)).graph.node
    assert meta["marker_rows"] and sum(n.name.startswith("MarkerRows_") for n in nodes) == 2
    prefix, markers = clf.topic_prefix()
    full = export_fused(clf.model, clf.tokenizer, prefix, tmp_path)
    rows = shutil.copy(full, tmp_path / "rows.onnx")
    assert _marker_rows(Path(rows), markers)
    encoder = OnnxEncoder(folder)
    batch = pad_batch(
        encoder.encode(["Kyiv rejected the truce.", "Moscow wants the Donbas, Peskov said."], ["", ""]), 0
    )
    runs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, batch)[0] for p in (full, rows)]
    assert runs[1].shape == (2, len(markers), runs[0].shape[-1])
    np.testing.assert_allclose(runs[1], runs[0][:, markers], rtol=0, atol=1e-5)
    # A graph the rewrite does not know is left as it was.
    assert not _marker_rows(Path(rows), markers)  # its last attention now feeds gathers
