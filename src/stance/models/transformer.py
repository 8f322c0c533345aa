"""Fine-tuned transformer (default: the offline all-MiniLM-L6-v2, a 6-layer BERT).

One encoder pass per sentence answers both questions for every topic at once. The input
is the topic names, then the sentence and the one before it::

    [CLS] ceasefire ; territory ; security guarantees [SEP] <sentence> [previous] <context> [SEP]

and a token-classification head reads four outputs at the first token of each topic name:
a topic logit (does the sentence take a position on it) and three stance logits. Each
topic name's token attends to the sentence with its own meaning, so every topic gets its
own reading of the sentence from the same pass (a stance model given "territory" reads a
sentence differently from one given "ceasefire").

Most sentences have one holder, so that pass is all scoring needs. Where two or more
holders share a sentence ("Zelensky rejected Putin's demand ..."), one more pass per
holder names the holder in front of the sentence and gives that holder's stances. The
model learns both readings: every sentence once without a holder (topics, and the
stance where its holders agree) and every (sentence, holder) pair with a position once
with the holder.

Saving also writes an int8 ONNX copy (:mod:`stance.models.onnx_runtime`), and loading
picks ONNX Runtime where the folder has one (``runtime: torch`` or ``STANCE_RUNTIME=torch``
keep PyTorch, the reference). On the PyTorch path, a CPU with native bfloat16
(AVX512-BF16/AMX) runs inference under bfloat16 autocast, about 1.8 times as fast as
float32; probabilities move by 0.001 on average. ``num_layers``
keeps only the first encoder layers: fewer layers, faster scoring.
Data goes through ``datasets`` and training through ``transformers.Trainer``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import STANCES, default_base_model
from ..errors import StanceError
from .base import (
    HF_MODEL_ARGS,
    HF_TOKENIZER_ARGS,
    FitMonitor,
    StanceClassifier,
    describe_holder,
    text_column,
    topic_name,
)
from .params import TransformerParams

if TYPE_CHECKING:
    import pandas as pd

MODEL_DIR = "model"
TOPIC_SEPARATOR = " ; "
IGNORE = -1  # a target the loss leaves out (a topic's stance nobody holds, a holder row's topics)


def holder_prefix(actor: str, side: str) -> str:
    """The holder put in words in front of the sentence, for multi-holder sentences."""
    return f"{describe_holder(actor, side)} |"


def bf16_native() -> bool:
    """Whether this CPU computes bfloat16 in hardware (else bfloat16 is emulated and slow)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _dropout_like(x, full_shape: tuple[int, ...], rows, module):
    """``module``'s dropout on ``x`` (the ``rows`` of a ``full_shape`` tensor), drawing the
    mask over the whole shape: the random stream stays the one the full layer draws."""
    import torch

    if not (module.training and module.p > 0):
        return x
    noise = torch.empty(full_shape, dtype=x.dtype, device=x.device).bernoulli_(1 - module.p)
    return x * noise[:, rows].div_(1 - module.p)


def _markers_only_forward(layer, markers: list[int]):
    """A BERT layer's forward that computes its output at the ``markers`` tokens only.

    The head reads the topic names' tokens alone, so in the last layer every other token
    only lends its keys and values: queries, the attention output, the feed-forward block
    and the dropout are needed at the markers only (a fifth of a 4-layer training step).
    The output keeps the full shape, zero elsewhere, so the model's head and the readers of
    ``logits[:, markers]`` work unchanged.
    """
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    att, att_out, inter, out = layer.attention.self, layer.attention.output, layer.intermediate, layer.output

    def forward(hidden_states, attention_mask=None, *args, **kwargs):
        b, n, _ = hidden_states.shape
        picked = hidden_states[:, markers]
        heads = (b, -1, att.num_attention_heads, att.attention_head_size)
        q = att.query(picked).view(*heads).transpose(1, 2)
        k = att.key(hidden_states).view(*heads).transpose(1, 2)
        v = att.value(hidden_states).view(*heads).transpose(1, 2)
        mask = attention_mask
        if mask is not None and mask.dim() == 4 and mask.shape[-2] == n:
            mask = mask[:, :, markers]
        attend = ALL_ATTENTION_FUNCTIONS.get_interface(att.config._attn_implementation, eager_attention_forward)
        context, _ = attend(
            att, q, k, v, mask, dropout=att.dropout.p if att.training else 0.0, scaling=att.scaling, is_causal=False
        )
        context = context.reshape(b, len(markers), -1)
        full = hidden_states.shape
        a = att_out.LayerNorm(_dropout_like(att_out.dense(context), full, markers, att_out.dropout) + picked)
        h = out.dense(inter(a))
        h = out.LayerNorm(_dropout_like(h, (*full[:2], h.shape[-1]), markers, out.dropout) + a)
        return _rows_in_place(hidden_states, markers, h)

    return forward


def _rows_in_place(full, rows: list[int], values):
    """A tensor shaped as ``full``: ``values`` at the (ascending) ``rows`` of dim 1, zeros
    elsewhere, built by concatenation (plain slices and one ``cat``, no scatter)."""
    import torch

    pieces, start = [], 0
    for j, row in enumerate(rows):
        pieces += [torch.zeros_like(full[:, start:row]), values[:, j : j + 1]]
        start = row + 1
    return torch.cat([*pieces, torch.zeros_like(full[:, start:])], dim=1)


@contextmanager
def markers_only(model, markers: list[int], enabled: bool = True):
    """Within the block, ``model``'s last encoder layer computes the marker tokens alone
    (unless not ``enabled``: the one switch the callers' ``markers_only`` param flips).

    Exact at the markers (the same function; without attention dropout, as configured, the
    dropout draws the same masks; with it, the same law); the other positions' outputs are
    meaningless. Models that are not BERT-style run as they are. Training and PyTorch
    scoring use it; the int8 ONNX export gets the same saving another way (the full layer
    exported and fused, then rows gathered in the graph: ``onnx_runtime._marker_rows``),
    because this one exports as ~180 loose ops whose overhead ate the saving.
    """
    layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    last = layers[-1] if layers is not None and len(layers) else None
    parts = ("attention.self.query", "attention.output.LayerNorm", "intermediate", "output.dense")
    if not enabled or last is None or not all(_has_path(last, part) for part in parts):
        yield model
        return
    if list(markers) != sorted(set(markers)):
        raise ValueError(f"markers must ascend without repeats, got {markers}")
    last.forward = _markers_only_forward(last, list(markers))
    try:
        yield model
    finally:
        del last.forward  # back to the class's own forward


def _has_path(module, dotted: str) -> bool:
    for name in dotted.split("."):
        module = getattr(module, name, None)
        if module is None:
            return False
    return True


# Trainer log keys kept as curves, under the names the MLflow run shows.
CURVES = {"loss": "train_loss", "eval_loss": "dev_loss", "learning_rate": "learning_rate", "grad_norm": "grad_norm"}
LOG_EVERY = 0.05  # a point of the training curves every 5% of the steps


def _monitor_callback(monitor: FitMonitor):
    """Trainer events to the monitor: progress after every step, the curves when logged."""
    from transformers import TrainerCallback

    class MonitorCallback(TrainerCallback):
        rng = None

        def on_train_begin(self, args, state, control, **kwargs):
            monitor.progress(0, state.max_steps)

        # The dev pass draws a seed from torch's generator for its data loader: put the
        # state back, so the curves leave the trained model exactly as it was without them.
        def on_epoch_end(self, args, state, control, **kwargs):
            import torch

            self.rng = torch.get_rng_state()

        def on_evaluate(self, args, state, control, **kwargs):
            import torch

            if self.rng is not None:
                torch.set_rng_state(self.rng)
                self.rng = None

        def on_step_end(self, args, state, control, **kwargs):
            monitor.progress(state.global_step, state.max_steps)

        def on_log(self, args, state, control, logs=None, **kwargs):
            values = {CURVES[k]: float(v) for k, v in (logs or {}).items() if k in CURVES}
            if values:
                monitor.metrics(values, step=state.global_step)

    return MonitorCallback()


def _joint_trainer(base):
    """A Trainer whose loss is masked BCE over topics + class-weighted CE over per-topic stances."""

    class JointTrainer(base):
        markers = None  # token positions of the topic names
        class_weights = None
        sampler = None  # an _epoch_sampler, or None for the Trainer's own length grouping

        def _get_train_sampler(self, *args, **kwargs):
            return self.sampler if self.sampler is not None else super()._get_train_sampler(*args, **kwargs)

        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            import torch.nn.functional as F

            labels = inputs.pop("labels")
            outputs = model(**inputs)
            t = len(self.markers)
            logits = outputs.logits[:, self.markers].float()  # (batch, topics, 1 + stances)
            topic_y, stance_y = labels[:, :t], labels[:, t:].long()
            mask = topic_y >= 0
            loss = logits.sum() * 0.0  # keeps the graph when a batch has nothing to learn from
            if mask.any():
                loss = loss + F.binary_cross_entropy_with_logits(logits[..., 0][mask], topic_y[mask])
            if (stance_y >= 0).any():
                weight = None if self.class_weights is None else self.class_weights.to(logits.device)
                loss = loss + F.cross_entropy(
                    logits[..., 1:].reshape(-1, len(STANCES)),
                    stance_y.reshape(-1),
                    weight=weight,
                    ignore_index=IGNORE,
                )
            return (loss, outputs) if return_outputs else loss

    return JointTrainer


def _epoch_sampler(lengths: list[int], optional: np.ndarray, fraction: float, batch_size: int, seed: int):
    """A length-grouped sampler that keeps every required row and a fresh ``fraction`` of the
    optional ones each epoch.

    Optional rows (:func:`optional_rows`) repeat what other rows teach, so seeing each in
    only some epochs keeps most of what they add for fewer steps. The epoch count is the
    Trainer's length, so the learning-rate schedule still spans the whole run.
    """
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    required, spare = np.flatnonzero(~optional), np.flatnonzero(optional)
    keep = int(round(fraction * len(spare)))

    class EpochSubset(torch.utils.data.Sampler):
        epoch = 0

        def __len__(self):
            return len(required) + keep

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __iter__(self):
            rng = np.random.default_rng([seed, self.epoch])
            rows = np.concatenate([required, rng.choice(spare, size=keep, replace=False)])
            generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
            order = get_length_grouped_indices([lengths[i] for i in rows], batch_size, generator=generator)
            self.epoch += 1  # the next epoch draws anew even where the Trainer does not call set_epoch
            return iter(rows[order].tolist())

    return EpochSubset()


def _epoch_timer(seconds: list[float]):
    """A Trainer callback that appends each epoch's wall time to ``seconds``."""
    import time

    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            seconds.append(time.perf_counter() - self.start)

    return EpochTimer()


def training_examples(
    sentences: pd.DataFrame, items: pd.DataFrame, topic_ids: list[str]
) -> tuple[list[str], list[str], list[list[float]]]:
    """(sentence side, context side, targets) rows: one per sentence, one per (sentence, holder).

    Targets are ``T`` topic values then ``T`` stance indices, :data:`IGNORE` where unknown.
    A sentence row's stance on a topic is kept only when all its holders agree on it.
    """
    t = len(topic_ids)
    col = {topic: j for j, topic in enumerate(topic_ids)}
    by_sentence: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    sides: dict[str, str] = {}
    keys = zip(text_column(items, "text"), text_column(items, "context"), strict=True)
    holders = zip(text_column(items, "actor", "author"), text_column(items, "side", "other"), strict=True)
    for key, (actor, side), topic, stance in zip(keys, holders, items["topic"], items["stance"], strict=True):
        if topic in col:
            by_sentence.setdefault(key, {}).setdefault(actor, {})[topic] = stance
            sides[actor] = side

    first, second, targets = [], [], []
    texts, contexts = text_column(sentences, "text"), text_column(sentences, "context")
    topic_values = sentences[topic_ids].to_numpy(dtype=float)
    for text, context, topics in zip(texts, contexts, topic_values, strict=True):
        held = by_sentence.get((text, context), {})
        stance = [IGNORE] * t
        for topic, j in col.items():
            views = {h[topic] for h in held.values() if topic in h}
            if len(views) == 1:
                stance[j] = STANCES.index(views.pop())
        first.append(text)
        second.append(context)
        targets.append([float(v) for v in topics] + [float(s) for s in stance])
        for actor, positions in held.items():
            row = [float(IGNORE)] * t + [float(IGNORE)] * t
            for topic, s in positions.items():
                row[t + col[topic]] = float(STANCES.index(s))
            first.append(f"{holder_prefix(actor, sides[actor])} {text}")
            second.append(context)
            targets.append(row)
    return first, second, targets


def optional_rows(targets: list[list[float]], topics: int) -> np.ndarray:
    """Rows that repeat what others teach: position-free sentences, and the holder-named
    copy of a sentence with one holder (its sentence row carries the same stances)."""
    y = np.asarray(targets, dtype=float).reshape(len(targets), -1)
    holder_row = (y[:, :topics] == IGNORE).all(axis=1)
    optional = ~holder_row & (y[:, :topics] == 0).all(axis=1)
    start = np.flatnonzero(~holder_row)  # each sentence row, followed by its holder rows
    for begin, end in zip(start, [*start[1:], len(y)], strict=True):
        if end - begin == 2:
            optional[begin + 1] = True
    return optional


class TransformerClassifier(StanceClassifier):
    family = "transformer"
    reads_columns = True
    Params = TransformerParams

    def __init__(self, topics, params=None):
        super().__init__(topics, params)
        self.model = self.tokenizer = self._prefix = None
        self.onnx = None  # an OnnxEncoder when scoring through ONNX Runtime
        self._folder: Path | None = None  # where the weights were loaded from
        # The stance part of the last holder-free passes, so that predict_stance after
        # predict_topics on the same sentences (what scoring does) costs no second pass.
        self._sentence_stances: dict[tuple[str, str], np.ndarray] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _base(self) -> str:
        return self.params.get("base_model") or default_base_model()

    def _torch(self):
        import torch

        if self.params.get("threads"):
            torch.set_num_threads(int(self.params["threads"]))
        return torch

    @staticmethod
    def _quiet():
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

    def topic_prefix(self) -> tuple[str, list[int]]:
        """The topic names as the first segment, and the token position of each name."""
        if self._prefix is None:
            names = [topic_name(t) for t in self.topic_ids]
            prefix = TOPIC_SEPARATOR.join(names)
            starts, pos = [], 0
            for name in names:
                starts.append(pos)
                pos += len(name) + len(TOPIC_SEPARATOR)
            offsets = self.tokenizer(prefix, return_offsets_mapping=True)["offset_mapping"]
            token_at = {start: i for i, (start, end) in enumerate(offsets) if end > start}
            self._prefix = (prefix, [token_at[c] for c in starts])
        return self._prefix

    def _load_base(self):
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self._quiet()
        base = self._base()
        labels = ["topic", *STANCES]
        # Attention dropout draws a random mask over every (head, token, token): on a CPU
        # that sampling is a fifth of a training step. None keeps the base model's rate.
        extra = {}
        if self.params.get("attention_dropout") is not None:
            extra["attention_probs_dropout_prob"] = float(self.params["attention_dropout"])
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(base, **HF_TOKENIZER_ARGS)
            model = AutoModelForTokenClassification.from_pretrained(
                base,
                **HF_MODEL_ARGS,
                num_labels=len(labels),
                id2label=dict(enumerate(labels)),
                label2id={v: k for k, v in enumerate(labels)},
                **extra,
            )
        except OSError as exc:
            raise StanceError(
                f"cannot load base model {base!r}: {str(exc).splitlines()[0][:160]} "
                "(set params.base_model or STANCE_BASE_MODEL to a local model folder)"
            ) from exc
        if not self.tokenizer.is_fast:
            raise StanceError(f"base model {base!r} has no fast tokenizer (needed to find the topic names' tokens)")
        self._prefix = None
        keep = self.params.get("num_layers")
        frozen = int(self.params.get("frozen_layers") or 0)
        layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
        if keep:
            if layers is None or not 0 < int(keep) <= len(layers):
                raise StanceError(
                    f"num_layers {keep}: {base!r} has {len(layers) if layers is not None else 'no BERT-style'} "
                    "encoder layers; choose a number between 1 and that"
                )
            layers = model.base_model.encoder.layer = layers[: int(keep)]
            model.config.num_hidden_layers = int(keep)
        if self.params.get("freeze_embeddings"):
            # The word-embedding matrix is half of MiniLM's weights; updating it costs more
            # CPU time (optimizer, clipping) than it gains on a corpus of this size.
            model.get_input_embeddings().weight.requires_grad_(False)
        if frozen:
            # Backpropagation stops at the lowest trainable weight: with the embedding block
            # (positions and layer norm too, not only the word matrix) and N layers frozen,
            # the backward pass skips those layers entirely.
            if layers is None or not 0 < frozen < len(layers):
                n = len(layers) if layers is not None else 0
                raise StanceError(f"frozen_layers {frozen}: choose 0 to {n - 1} (the model has {n})")
            for module in (model.base_model.embeddings, *layers[:frozen]):
                module.requires_grad_(False)
        return model

    def _encode(self, sentences: list[str], contexts: list[str]):
        """Token ids of (topic names, sentence [previous] context); only the second is cut."""
        from .onnx_runtime import sentence_pairs

        prefix, _ = self.topic_prefix()
        pairs = sentence_pairs(sentences, contexts, self.params.get("context_words"))
        return self.tokenizer(
            [prefix] * len(pairs), pairs, truncation="only_second", max_length=self.params["max_length"]
        )

    def _autocast(self):
        torch = self._torch()
        dtype = self.params["inference_dtype"]
        on_cpu = next(self.model.parameters()).device.type == "cpu"
        if dtype == "bfloat16" or (dtype == "auto" and on_cpu and bf16_native()):
            return torch.autocast("cpu" if on_cpu else "cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _logits(self, sentences: list[str], contexts: list[str]) -> np.ndarray:
        """Outputs at the topic names (n, T, 1 + 3), batched by length so batches pad little."""
        if self.onnx is not None:
            return self.onnx.logits(sentences, contexts, int(self.params["onnx_batch_size"]))
        torch = self._torch()
        device = next(self.model.parameters()).device
        enc = self._encode(sentences, contexts)
        markers = self.topic_prefix()[1]
        order = np.argsort([len(ids) for ids in enc["input_ids"]], kind="stable")
        bs = int(self.params["predict_batch_size"])
        out = np.zeros((len(sentences), len(markers), self.model.config.num_labels), dtype=np.float32)
        fast = markers_only(self.model, markers, bool(self.params.get("markers_only")))
        with torch.inference_mode(), self._autocast(), fast:
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                batch = self.tokenizer.pad({k: [enc[k][i] for i in idx] for k in enc.keys()}, return_tensors="pt").to(
                    device
                )
                out[idx] = self.model(**batch).logits[:, markers].float().cpu().numpy()
        return out

    @staticmethod
    def _split(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Topic probabilities (n, T) and per-topic stance probabilities (n, T, 3)."""
        # numpy, not scipy.special: importing scipy costs a cold start a second.
        stance = np.exp(logits[..., 1:] - logits[..., 1:].max(axis=2, keepdims=True))
        return 1.0 / (1.0 + np.exp(-logits[..., 0])), stance / stance.sum(axis=2, keepdims=True)

    # -- the contract ----------------------------------------------------------------------------
    def fit(self, sentences: pd.DataFrame, items: pd.DataFrame, dev=None, monitor: FitMonitor | None = None) -> None:
        import tempfile

        import datasets
        from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

        torch = self._torch()
        torch.manual_seed(self.params["seed"])
        p = self.params
        limit = p.get("max_train_items")
        if limit:
            sentences, items = sentences.head(int(limit)), items.head(int(limit))
        self.model = self._load_base()
        self._sentence_stances = {}
        first, second, targets = training_examples(sentences, items, self.topic_ids)
        t = len(self.topic_ids)

        datasets.disable_progress_bars()

        def dataset(first: list[str], second: list[str], targets: list[list[float]]):
            ds = datasets.Dataset.from_dict({"a": first, "b": second, "labels": targets})
            return ds.map(lambda batch: self._encode(batch["a"], batch["b"]), batched=True, remove_columns=["a", "b"])

        ds = dataset(first, second, targets)
        # The dev loss once per epoch: the eval curve beside the training loss in MLflow.
        eval_ds = dataset(*training_examples(dev[0], dev[1], self.topic_ids)) if dev and len(dev[0]) else None
        with tempfile.TemporaryDirectory(prefix="stance-hf-") as scratch:
            args = TrainingArguments(
                output_dir=scratch,  # nothing is saved there (save_strategy "no"), and it is removed
                num_train_epochs=p["epochs"],
                per_device_train_batch_size=p["batch_size"],
                per_device_eval_batch_size=p["predict_batch_size"],
                learning_rate=p["learning_rate"],
                weight_decay=p["weight_decay"],
                warmup_steps=float(p["warmup_ratio"]),  # a float < 1 is a ratio
                seed=p["seed"],
                data_seed=p["seed"],
                save_strategy="no",
                report_to=[],
                logging_strategy="steps",
                logging_steps=LOG_EVERY,
                eval_strategy="epoch" if eval_ds is not None else "no",
                prediction_loss_only=True,
                disable_tqdm=True,  # the monitor shows progress, on stderr
                use_cpu=not torch.cuda.is_available(),
                dataloader_num_workers=0,
                # Batches of similar length pad little: on a CPU this is most of the speed.
                train_sampling_strategy="group_by_length",
                dataloader_pin_memory=False,
            )
            trainer = _joint_trainer(Trainer)(
                model=self.model,
                args=args,
                train_dataset=ds,
                eval_dataset=eval_ds,
                data_collator=DataCollatorWithPadding(self.tokenizer),
                callbacks=[_monitor_callback(monitor or FitMonitor())],
            )
            trainer.markers = self.topic_prefix()[1]
            fraction = p.get("optional_fraction")
            if fraction is not None and fraction < 1:
                trainer.sampler = _epoch_sampler(
                    [len(ids) for ids in ds["input_ids"]],
                    optional_rows(targets, t),
                    float(fraction),
                    int(p["batch_size"]),
                    int(p["seed"]),
                )
            trainer.remove_callback(PrinterCallback)  # it prints the final loss dict to stdout
            self.epoch_seconds = []  # wall time of each epoch (training logs it to MLflow)
            trainer.add_callback(_epoch_timer(self.epoch_seconds))
            if p.get("balanced"):
                # Same "balanced" weighting as the linear families: n / (k * count per class).
                y = np.asarray(targets)[:, t:].ravel()
                counts = np.bincount(y[y >= 0].astype(int), minlength=len(STANCES)).astype(float)
                weights = counts.sum() / (len(STANCES) * np.maximum(counts, 1))
                trainer.class_weights = torch.tensor(weights, dtype=torch.float32)
            # The loss reads the topic names' tokens only: the last layer computes nothing else.
            with markers_only(self.model, trainer.markers, bool(p.get("markers_only"))):
                trainer.train()
        self.model.eval()

    def _topic_probs(self, frame: pd.DataFrame) -> np.ndarray:
        texts, contexts = text_column(frame, "text"), text_column(frame, "context")
        topic, stance = self._split(self._logits(texts, contexts))
        self._sentence_stances = dict(zip(zip(texts, contexts), stance, strict=True))
        return topic

    def _stance_probs(self, frame: pd.DataFrame) -> np.ndarray:
        texts, contexts = text_column(frame, "text"), text_column(frame, "context")
        actors, sides = text_column(frame, "actor", "author"), text_column(frame, "side", "other")
        keys = list(zip(texts, contexts))
        holders: dict[tuple[str, str], set[str]] = {}
        for key, actor in zip(keys, actors):
            holders.setdefault(key, set()).add(actor)

        # One holder in a sentence: the holder-free pass (often already done by _topic_probs).
        single = list(dict.fromkeys(k for k in keys if len(holders[k]) == 1 and k not in self._sentence_stances))
        if single:
            _, stance = self._split(self._logits([k[0] for k in single], [k[1] for k in single]))
            self._sentence_stances.update(zip(single, stance))
        # Several holders: one pass per holder, with the holder named.
        pairs = list(dict.fromkeys((k, a, s) for k, a, s in zip(keys, actors, sides) if len(holders[k]) > 1))
        per_holder = {}
        if pairs:
            _, stance = self._split(
                self._logits([f"{holder_prefix(a, s)} {k[0]}" for k, a, s in pairs], [k[1] for k, _, _ in pairs])
            )
            per_holder = {(k, a): st for (k, a, _), st in zip(pairs, stance)}

        col = {topic: j for j, topic in enumerate(self.topic_ids)}
        out = np.full((len(frame), len(STANCES)), 1 / len(STANCES))
        for i, (key, actor, topic) in enumerate(zip(keys, actors, frame["topic"])):
            if topic in col:  # a topic the model was not trained on stays uniform
                table = self._sentence_stances[key] if len(holders[key]) == 1 else per_holder[(key, actor)]
                out[i] = table[col[topic]]
        return out

    def _save_weights(self, folder: Path) -> None:
        if self.model is None:  # loaded for ONNX Runtime only: the reference weights are needed
            self.use_runtime("torch")
        self.tokenizer.save_pretrained(folder / "tokenizer")
        self.model.save_pretrained(folder / MODEL_DIR)
        if self.params["onnx_export"]:
            from .onnx_runtime import export_int8

            prefix, markers = self.topic_prefix()
            export_int8(
                self.model,
                self.tokenizer,
                prefix,
                markers,
                self.params["max_length"],
                folder,
                self.params.get("context_words"),
                self.params.get("onnx_float_attention", 0),
                bool(self.params.get("markers_only")),
            )

    def use_runtime(self, runtime: str) -> str:
        """Score through ``onnx``, ``torch`` or ``auto`` (ONNX where the folder has it)."""
        from .onnx_runtime import has_onnx, resolve_runtime

        folder = self._folder
        chosen = resolve_runtime(runtime, folder is not None and has_onnx(folder), where=str(folder))
        if chosen == "onnx" and self.onnx is None:
            from .onnx_runtime import OnnxEncoder

            self.onnx = OnnxEncoder(folder, self.params.get("threads"), self.params.get("context_words"))
        elif chosen == "torch":
            self.onnx = None
            if self.model is None:
                self._load_torch(folder)
        self._sentence_stances = {}
        return chosen

    @property
    def runtime(self) -> str:
        return "onnx" if self.onnx is not None else "torch"

    def _load_weights(self, folder: Path) -> None:
        self._folder = folder
        self.use_runtime(os.environ.get("STANCE_RUNTIME") or self.params["runtime"])

    def _load_torch(self, folder: Path) -> None:
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        if not (folder / MODEL_DIR).is_dir():
            raise StanceError(
                f"{folder}: no {MODEL_DIR}/ folder — written by an older stance with two transformer "
                "models; retrain with `make train`"
            )
        self._torch()
        self._quiet()
        self.tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer", **HF_TOKENIZER_ARGS)
        self.model = AutoModelForTokenClassification.from_pretrained(folder / MODEL_DIR, **HF_MODEL_ARGS).eval()
        self._prefix = None
