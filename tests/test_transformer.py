"""families/transformer.py: training rows, the one-pass contract, holders, dtypes, layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stance.config import STANCES
from stance.errors import StanceError
from stance.labels import LabelSet
from stance.models.transformer import (
    IGNORE,
    TransformerClassifier,
    _epoch_sampler,
    holder_prefix,
    optional_rows,
    training_examples,
)

LABELS = Path(__file__).parent / "fixtures" / "labels_custom"
# No ONNX copy: these tests are about the PyTorch reference path (tests/test_onnx_runtime.py: ONNX).
TINY = {"epochs": 1, "batch_size": 8, "max_length": 64, "max_train_items": 40, "seed": 7, "onnx_export": False}

ZEL_PUTIN = "Zelensky rejected Putin's demand that Kyiv cede Donbas."
SENTENCES = pd.DataFrame(
    {
        "text": [ZEL_PUTIN, "Starmer backed a truce.", "It rained in Kyiv."],
        "context": ["", ZEL_PUTIN, ""],
        "ceasefire": [0, 1, 0],
        "territory": [1, 0, 0],
    }
)
ITEMS = pd.DataFrame(
    {
        "text": [ZEL_PUTIN, ZEL_PUTIN, "Starmer backed a truce."],
        "context": ["", "", ZEL_PUTIN],
        "actor": ["zelensky", "putin", "starmer"],
        "side": ["ukraine", "russia", "europe"],
        "topic": ["territory", "territory", "ceasefire"],
        "stance": ["oppose", "support", "support"],
    }
)


def test_training_rows_sentence_then_each_holder():
    first, second, targets = training_examples(SENTENCES, ITEMS, ["ceasefire", "territory"])
    sup, opp = float(STANCES.index("support")), float(STANCES.index("oppose"))
    # Zelensky and Putin disagree on territory: the holder-free row learns the topic, not a stance.
    assert first[0] == ZEL_PUTIN and targets[0] == [0.0, 1.0, IGNORE, IGNORE]
    assert first[1] == f"{holder_prefix('zelensky', 'ukraine')} {ZEL_PUTIN}"
    assert targets[1] == [IGNORE, IGNORE, IGNORE, opp]
    assert targets[2] == [IGNORE, IGNORE, IGNORE, sup]
    # One holder: the sentence row carries the stance too.
    assert first[3] == "Starmer backed a truce." and second[3] == ZEL_PUTIN
    assert targets[3] == [1.0, 0.0, sup, IGNORE]
    # No position at all: one row, topics only.
    assert targets[-1] == [0.0, 0.0, IGNORE, IGNORE] and len(first) == 6


def test_optional_rows_are_position_free_and_single_holder_copies():
    _, _, targets = training_examples(SENTENCES, ITEMS, ["ceasefire", "territory"])
    # rows: Zelensky/Putin sentence, its two holder rows, Starmer's sentence, its holder row, rain
    assert optional_rows(targets, 2).tolist() == [False, False, False, False, True, True]


def test_each_epoch_keeps_required_rows_and_draws_a_fresh_share_of_the_rest():
    optional = np.array([False] * 4 + [True] * 10)
    sampler = _epoch_sampler(list(range(3, 17)), optional, 0.5, batch_size=2, seed=7)
    epochs = [list(sampler) for _ in range(3)]
    assert all(len(rows) == len(sampler) == 4 + 5 and len(set(rows)) == 9 for rows in epochs)
    assert all({0, 1, 2, 3} <= set(rows) for rows in epochs)
    assert len({frozenset(rows) for rows in epochs}) > 1  # another half of the optional rows
    again = _epoch_sampler(list(range(3, 17)), optional, 0.5, batch_size=2, seed=7)
    again.set_epoch(1)
    assert list(again) == epochs[1]  # the Trainer's epoch number gives the same draw


def test_optional_fraction_trains_fewer_steps():
    from stance.models.base import FitMonitor

    class Steps(FitMonitor):
        total = 0

        def progress(self, done, total, unit="steps"):
            self.total = total

    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    train = (labels.sentences("train"), labels.positions("train"))
    totals = []
    for fraction in (None, 0.25):
        monitor = Steps()
        TransformerClassifier(topics, {**TINY, "num_layers": 1, "optional_fraction": fraction}).fit(
            *train, monitor=monitor
        )
        totals.append(monitor.total)
    assert 0 < totals[1] < totals[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    clf = TransformerClassifier(topics, {**TINY, "inference_dtype": "float32"})
    clf.fit(labels.sentences("train"), labels.positions("train"))
    folder = clf.save(tmp_path_factory.mktemp("tiny") / "model")
    return clf, folder


def test_one_pass_per_sentence_and_per_holder_where_several(tiny, monkeypatch):
    clf, _ = tiny
    passes = []
    logits = clf._logits
    monkeypatch.setattr(clf, "_logits", lambda s, c: passes.append(list(s)) or logits(s, c))
    sentences = SENTENCES[["text", "context"]]
    topics = clf.predict_topics(sentences)
    assert topics.shape == (3, 2) and ((topics >= 0) & (topics <= 1)).all()
    rows = ITEMS.assign(topic=["nato_membership", "nato_membership", "ceasefire"])
    stance = clf.predict_stance(rows)
    assert stance.shape == (3, 3) and np.allclose(stance.sum(axis=1), 1)
    # Topics: one pass over the sentences. Stance: the single-holder sentence reuses it;
    # the two-holder sentence gets one pass per holder, each with the holder named.
    assert len(passes) == 2 and passes[0] == list(SENTENCES["text"])
    assert passes[1] == [
        f"{holder_prefix(a, s)} {ZEL_PUTIN}" for a, s in [("zelensky", "ukraine"), ("putin", "russia")]
    ]
    fresh = TransformerClassifier.load(tiny[1])  # nothing cached: the pass happens on demand
    assert np.allclose(fresh.predict_stance(rows.iloc[[2]]), stance[[2]], atol=1e-5)
    unknown = fresh.predict_stance(rows.iloc[[2]].assign(topic="elections"))
    assert np.allclose(unknown, 1 / 3)


def test_saved_model_reloads_with_same_predictions(tiny):
    clf, folder = tiny
    again = TransformerClassifier.load(folder)
    frame = SENTENCES[["text", "context"]]
    assert np.allclose(again.predict_topics(frame), clf.predict_topics(frame), atol=1e-5)


def test_bfloat16_inference_close_to_float32(tiny):
    clf, folder = tiny
    bf16 = TransformerClassifier.load(folder)
    bf16.params["inference_dtype"] = "bfloat16"
    frame = SENTENCES[["text", "context"]]
    assert np.abs(bf16.predict_topics(frame) - clf.predict_topics(frame)).max() < 0.05


def test_fewer_layers_are_kept_on_save(tmp_path):
    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    clf = TransformerClassifier(topics, {**TINY, "num_layers": 2, "max_train_items": 8})
    clf.fit(labels.sentences("train"), labels.positions("train"))
    again = TransformerClassifier.load(clf.save(tmp_path / "m"))
    assert again.model.config.num_hidden_layers == 2 and len(again.model.base_model.encoder.layer) == 2


def test_frozen_layers_get_no_gradient():
    """The whole embedding block and the lowest layer frozen: backward stops at layer 1."""
    topics = {"ceasefire": "A ceasefire now.", "territory": "Ukraine cedes land."}
    model = TransformerClassifier(topics, {**TINY, "num_layers": 2, "frozen_layers": 1})._load_base()
    layers = model.base_model.encoder.layer
    assert not any(p.requires_grad for p in model.base_model.embeddings.parameters())
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(StanceError, match="frozen_layers 2: choose 0 to 1"):
        TransformerClassifier(topics, {**TINY, "num_layers": 2, "frozen_layers": 2})._load_base()


def test_bad_settings_and_old_folders_are_one_line_errors(tmp_path):
    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    with pytest.raises(StanceError, match=r"params.inference_dtype: expected one of .*, got 'int4'"):
        TransformerClassifier(topics, {"inference_dtype": "int4"})
    with pytest.raises(StanceError, match=r"params.optional_fraction: input should be less than or equal to 1, got"):
        TransformerClassifier(topics, {"optional_fraction": 1.5})
    with pytest.raises(StanceError, match="num_layers 12"):
        TransformerClassifier(topics, {**TINY, "num_layers": 12}).fit(
            labels.sentences("train"), labels.positions("train")
        )
    (tmp_path / "old" / "topic_model").mkdir(parents=True)
    (tmp_path / "old" / "classifier.json").write_text(
        '{"family": "transformer", "topics": {"ceasefire": "x"}, "params": {}}', encoding="utf-8"
    )
    with pytest.raises(StanceError, match="retrain with `make train`"):
        TransformerClassifier.load(tmp_path / "old")


def test_curves_are_reported_and_leave_the_model_unchanged():
    """The monitor hears every step and the curves; the dev pass changes no weight."""
    from stance.models.base import FitMonitor

    class Recorder(FitMonitor):
        def __init__(self):
            self.steps, self.points = [], []

        def progress(self, done, total, unit="steps"):
            self.steps.append((done, total))

        def metrics(self, values, step):
            self.points.append((step, values))

    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    params = {**TINY, "epochs": 2, "num_layers": 2, "max_train_items": 12, "inference_dtype": "float32"}
    train = (labels.sentences("train"), labels.positions("train"))
    dev = (labels.sentences("dev"), labels.positions("dev"))
    recorder = Recorder()
    with_curves = TransformerClassifier(topics, params)
    with_curves.fit(*train, dev=dev, monitor=recorder)
    plain = TransformerClassifier(topics, params)
    plain.fit(*train)
    total = recorder.steps[-1][1]
    assert recorder.steps[0] == (0, total) and recorder.steps[-1] == (total, total) and total >= 2
    assert len([v for _, v in recorder.points if "dev_loss" in v]) == 2
    assert [s for s, v in recorder.points if "train_loss" in v] == list(range(1, total + 1))
    items = labels.positions("dev")
    assert np.array_equal(with_curves.predict_stance(items), plain.predict_stance(items))


def _batch(clf, frame):
    return clf.tokenizer.pad(clf._encode(list(frame["text"]), list(frame["context"])), return_tensors="pt")


def test_the_last_layer_on_the_markers_alone_is_the_same_function_there():
    """Same logits at the topic names and the same gradients, dropout on, padding in the batch."""
    import torch

    from stance.models.transformer import markers_only

    topics = {"ceasefire": "A ceasefire now.", "territory": "Ukraine cedes land."}
    clf = TransformerClassifier(topics, {**TINY, "num_layers": 2, "attention_dropout": 0.0})
    clf.model = clf._load_base().train()
    batch, markers = _batch(clf, SENTENCES), clf.topic_prefix()[1]
    assert batch["attention_mask"].min() == 0  # sentences of different lengths: padding

    def run(fast: bool):
        torch.manual_seed(3)
        clf.model.zero_grad()
        with markers_only(clf.model, markers) if fast else torch.enable_grad():
            logits = clf.model(**batch).logits
        logits[:, markers].pow(2).sum().backward()
        return logits.detach(), [p.grad.clone() for p in clf.model.parameters() if p.requires_grad]

    full, full_grads = run(False)
    fast, fast_grads = run(True)
    assert torch.allclose(fast[:, markers], full[:, markers], atol=1e-5)
    assert not torch.allclose(fast, full, atol=1e-3)  # elsewhere the fast layer computed nothing
    for a, b in zip(full_grads, fast_grads, strict=True):  # equal up to summation order
        assert (a - b).norm() <= 1e-4 * a.norm() + 1e-6
    restored, _ = run(False)  # the block put the layer's own forward back
    assert torch.equal(restored, full)


def test_training_on_the_markers_alone_learns_the_same_model():
    labels = LabelSet.load(LABELS)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    params = {**TINY, "num_layers": 2, "max_train_items": 12, "inference_dtype": "float32", "attention_dropout": 0.0}
    models = []
    for fast in (True, False):
        clf = TransformerClassifier(topics, {**params, "markers_only": fast})
        clf.fit(labels.sentences("train"), labels.positions("train"))
        models.append(clf)
    frame = labels.sentences("dev")
    assert np.allclose(models[0].predict_topics(frame), models[1].predict_topics(frame), atol=1e-4)
    items = labels.positions("dev")
    assert np.allclose(models[0].predict_stance(items), models[1].predict_stance(items), atol=1e-4)
    # Scoring takes the same shortcut (PyTorch path), with the same outputs at the topic names.
    clf = models[0]
    texts, contexts = list(frame["text"]), list(frame["context"])
    quick = clf._logits(texts, contexts)
    clf.params["markers_only"] = False
    assert np.allclose(quick, clf._logits(texts, contexts), atol=1e-5)
