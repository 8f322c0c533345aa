"""Fine-tuned transformer (default: the offline all-MiniLM-L6-v2, a 6-layer BERT).

Two sequence-classification heads share nothing but the base weights they start from:
a multi-label topic head over (sentence, previous sentence) and a stance head over
(target, sentence + previous sentence), where the target names the topic's proposition
and the holder. Data goes through ``datasets`` and training through ``transformers.Trainer``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..classifier import StanceClassifier, describe_target, text_column
from ..config import STANCES, default_base_model
from ..errors import StanceError

DEFAULTS = {
    "base_model": None,
    "max_length": 96,
    "batch_size": 16,
    "learning_rate": 1e-4,
    "topic_epochs": 3,
    "stance_epochs": 5,
    "weight_decay": 0.01,
    "warmup_ratio": 0.1,
    "threads": None,
    "seed": 13,
    "max_train_items": None,
    "balanced": True,
    "freeze_embeddings": False,
}


def _pair(text: str, context: str) -> str:
    return f"{text} [previous] {context}" if context else text


def _weighted_trainer(base):
    """A Trainer whose single-label loss is class-weighted (support outnumbers neutral)."""

    class WeightedTrainer(base):
        class_weights = None

        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            import torch

            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = torch.nn.functional.cross_entropy(
                outputs.logits, labels, weight=self.class_weights.to(outputs.logits.device)
            )
            return (loss, outputs) if return_outputs else loss

    return WeightedTrainer


class TransformerClassifier(StanceClassifier):
    family = "transformer"

    def __init__(self, topics, params=None):
        super().__init__(topics, {**DEFAULTS, **(params or {})})
        self.topic_model = self.stance_model = self.tokenizer = None

    # -- helpers ---------------------------------------------------------------------------
    def _base(self) -> str:
        return self.params.get("base_model") or default_base_model()

    def _torch(self):
        import torch

        if self.params.get("threads"):
            torch.set_num_threads(int(self.params["threads"]))
        return torch

    def _load_base(self, num_labels: int, problem_type: str, id2label: dict):
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        base = self._base()
        try:
            if self.tokenizer is None:
                self.tokenizer = AutoTokenizer.from_pretrained(base)
            model = AutoModelForSequenceClassification.from_pretrained(
                base,
                num_labels=num_labels,
                problem_type=problem_type,
                id2label=id2label,
                label2id={v: k for k, v in id2label.items()},
            )
        except OSError as exc:
            raise StanceError(
                f"cannot load base model {base!r}: {str(exc).splitlines()[0][:160]} "
                "(set params.base_model or STANCE_BASE_MODEL to a local model folder)"
            ) from exc
        if self.params.get("freeze_embeddings"):
            # The word-embedding matrix is half of MiniLM's weights; updating it costs more
            # CPU time (optimizer, clipping) than it gains on a corpus of this size.
            model.get_input_embeddings().weight.requires_grad_(False)
        return model

    def _topic_inputs(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        return text_column(frame, "text"), text_column(frame, "context")

    def _stance_inputs(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        targets = [
            describe_target(a, s, t)
            for a, s, t in zip(
                text_column(frame, "actor", "author"), text_column(frame, "side", "other"), frame["topic"]
            )
        ]
        texts = [_pair(t, c) for t, c in zip(*self._topic_inputs(frame))]
        return targets, texts

    def _fit_head(
        self, model, first: list[str], second: list[str] | None, labels, epochs: int, tag: str, class_weights=None
    ):
        import datasets
        from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

        p = self.params
        data = {"a": first, "labels": labels}
        if second is not None:
            data["b"] = second
        ds = datasets.Dataset.from_dict(data)

        def tokenize(batch):
            args = (batch["a"], batch["b"]) if "b" in batch else (batch["a"],)
            return self.tokenizer(*args, truncation=True, max_length=p["max_length"])

        datasets.disable_progress_bars()
        ds = ds.map(tokenize, batched=True, remove_columns=[c for c in ("a", "b") if c in data])
        out_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"stance-hf-{os.getpid()}-{tag}"
        args = TrainingArguments(
            output_dir=str(out_dir),
            num_train_epochs=epochs,
            per_device_train_batch_size=p["batch_size"],
            learning_rate=p["learning_rate"],
            weight_decay=p["weight_decay"],
            warmup_steps=float(p["warmup_ratio"]),  # a float < 1 is a ratio
            seed=p["seed"],
            data_seed=p["seed"],
            save_strategy="no",
            report_to=[],
            logging_strategy="no",
            disable_tqdm=True,
            use_cpu=not self._torch().cuda.is_available(),
            dataloader_num_workers=0,
            # Batches of similar length pad little: on a CPU this is most of the speed.
            train_sampling_strategy="group_by_length",
            dataloader_pin_memory=False,
        )
        trainer_cls = _weighted_trainer(Trainer) if class_weights is not None else Trainer
        trainer = trainer_cls(
            model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(self.tokenizer)
        )
        if class_weights is not None:
            trainer.class_weights = self._torch().tensor(class_weights, dtype=self._torch().float32)
        trainer.train()
        model.eval()
        return model

    def _predict(self, model, first: list[str], second: list[str] | None, sigmoid: bool) -> np.ndarray:
        torch = self._torch()
        device = next(model.parameters()).device
        outs = []
        bs = max(32, self.params["batch_size"] * 4)
        # Sort by length so each batch pads little; restore the order afterwards.
        order = np.argsort([len(a) + (len(second[i]) if second else 0) for i, a in enumerate(first)])
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                args = ([first[i] for i in idx],) + (([second[i] for i in idx],) if second is not None else ())
                enc = self.tokenizer(
                    *args, truncation=True, max_length=self.params["max_length"], padding=True, return_tensors="pt"
                ).to(device)
                logits = model(**enc).logits.float()
                outs.append((logits.sigmoid() if sigmoid else logits.softmax(-1)).cpu().numpy())
        probs = np.concatenate(outs) if outs else np.zeros((0, model.config.num_labels))
        result = np.empty_like(probs)
        result[order] = probs
        return result

    # -- the contract ----------------------------------------------------------------------------
    def fit(self, sentences: pd.DataFrame, items: pd.DataFrame) -> None:
        torch = self._torch()
        torch.manual_seed(self.params["seed"])
        limit = self.params.get("max_train_items")
        if limit:
            sentences, items = sentences.head(int(limit)), items.head(int(limit))
        ids = self.topic_ids
        self.topic_model = self._load_base(len(ids), "multi_label_classification", dict(enumerate(ids)))
        y_topic = sentences[ids].to_numpy(dtype=np.float32).tolist()
        self._fit_head(self.topic_model, *self._topic_inputs(sentences), y_topic, self.params["topic_epochs"], "topic")
        self.stance_model = self._load_base(len(STANCES), "single_label_classification", dict(enumerate(STANCES)))
        y_stance = [STANCES.index(s) for s in items["stance"]]
        weights = None
        if self.params.get("balanced"):
            # Same "balanced" weighting as the linear families: n / (k * count per class).
            counts = np.bincount(y_stance, minlength=len(STANCES)).astype(float)
            weights = (len(y_stance) / (len(STANCES) * np.maximum(counts, 1))).tolist()
        self._fit_head(
            self.stance_model,
            *self._stance_inputs(items),
            y_stance,
            self.params["stance_epochs"],
            "stance",
            class_weights=weights,
        )

    def _topic_probs(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict(self.topic_model, *self._topic_inputs(frame), sigmoid=True)

    def _stance_probs(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict(self.stance_model, *self._stance_inputs(frame), sigmoid=False)

    def _save_weights(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder / "tokenizer")
        self.topic_model.save_pretrained(folder / "topic_model")
        self.stance_model.save_pretrained(folder / "stance_model")

    def _load_weights(self, folder: Path) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch()
        self.tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
        self.topic_model = AutoModelForSequenceClassification.from_pretrained(folder / "topic_model").eval()
        self.stance_model = AutoModelForSequenceClassification.from_pretrained(folder / "stance_model").eval()
