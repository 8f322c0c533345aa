"""int8 ONNX Runtime inference for the fine-tuned transformer: export, quantise, run.

In: a fine-tuned token-classification model and its fast tokenizer
(:mod:`stance.models.transformer`). Out: ``model.int8.onnx`` plus ``onnx.json`` in the
saved model folder, and :class:`OnnxEncoder`, which gives the same logits at the topic
names as the PyTorch path while importing neither torch nor transformers (so a cold
process starts in a fraction of the time).

Why int8 and not bfloat16: bfloat16 is fast only on CPUs that compute it natively
(AVX512-BF16/AMX); int8 matrix products are fast on any x86-64 with AVX2, and on ARM.
Weights are quantised per channel to 7 bits (``reduce_range``) because AVX2 CPUs without
VNNI add u8×s8 products in 16 bits, which overflows with full 8-bit weights. Activations
are quantised on the fly (dynamic quantisation: no calibration set needed).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import StanceError

ONNX_FILE = "model.int8.onnx"
ONNX_META = "onnx.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


RUNTIMES = ("auto", "onnx", "torch")


def sentence_pairs(sentences: list[str], contexts: list[str], context_words: int | None) -> list[str]:
    """The model's second segment: the sentence, then the start of the previous one.

    One function for training, PyTorch and ONNX Runtime scoring, so the int8 model reads
    exactly what the model was trained on (a context left uncut was both slower and
    another input).
    """
    if context_words:  # the start of the previous sentence names who "he" or "they" is
        contexts = [" ".join(c.split()[: int(context_words)]) for c in contexts]
    return [f"{s} [previous] {c}" if c else s for s, c in zip(sentences, contexts, strict=True)]


def has_onnx(folder: Path) -> bool:
    return (folder / ONNX_FILE).exists() and (folder / ONNX_META).exists()


def resolve_runtime(runtime: str, available: bool, where: str = "model") -> str:
    """``auto`` → ``onnx`` where the int8 model exists, else ``torch``; a bad name is one line."""
    if runtime not in RUNTIMES:
        choices = ", ".join(RUNTIMES)
        raise StanceError(f"runtime {runtime!r} (STANCE_RUNTIME or params.runtime): choose one of {choices}")
    if runtime == "onnx" and not available:
        raise StanceError(f"{where}: no {ONNX_FILE} to run with ONNX Runtime; retrain, or use runtime torch")
    if runtime == "auto":
        return "onnx" if available else "torch"
    return runtime


def export_int8(
    model,
    tokenizer,
    prefix: str,
    markers: list[int],
    max_length: int,
    folder: Path,
    context_words: int | None = None,
    float_attention: int = 0,
    marker_rows: bool = True,
) -> Path:
    """Export ``model`` (float32) to ONNX, fuse BERT ops, quantise to int8 into ``folder``.

    The TorchScript exporter (``dynamo=False``) traces the fixed BERT graph in seconds and
    needs no extra packages (torch 2.13 still ships it, deprecated; the dynamo exporter
    would add onnxscript); dynamic axes keep batch size and sequence length free.
    ``float_attention``: the first N fused attention blocks stay float32. The first one reads
    the embeddings, whose few outlier dimensions set the scale of its dynamically quantised
    input, so the other dimensions keep little precision: on one model that block alone was
    the int8 model's whole dev macro-F1 cost (0.011 → none). ``marker_rows``: the last
    layer after its attention runs on the topic names' rows only (:func:`_marker_rows`).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(folder)
    with tempfile.TemporaryDirectory(prefix="stance-onnx-") as tmp:
        fused = export_fused(model, tokenizer, prefix, Path(tmp))
        rows_only = marker_rows and _marker_rows(fused, markers)
        attention = [n.name for n in onnx.load(str(fused)).graph.node if n.op_type == "Attention"]
        quantize_dynamic(
            str(fused),
            str(folder / ONNX_FILE),
            nodes_to_exclude=attention[:float_attention],  # params: an int ≥ 0
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            # Fused ops (com.microsoft domain) defeat ONNX shape inference; they are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    meta = {
        "file": ONNX_FILE,
        "prefix": prefix,
        "markers": list(markers),
        "max_length": int(max_length),
        "context_words": int(context_words) if context_words else None,
        "marker_rows": bool(rows_only),  # the output holds the markers' rows alone, in order
    }
    (folder / ONNX_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return folder / ONNX_FILE


def export_fused(model, tokenizer, prefix: str, folder: Path) -> Path:
    """``model`` exported in float32 to ``folder``, BERT ops fused: ``model.fused.onnx``."""
    import torch

    was_training = model.training
    model = model.float().eval()
    # Eager attention exports the classic BERT pattern, which ONNX Runtime fuses into one
    # Attention op (quantised as a whole); the SDPA graph is left as slow loose ops.
    attn = getattr(model.config, "_attn_implementation", None)
    if attn and attn != "eager" and hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")

    class Logits(torch.nn.Module):
        """The model's logits tensor alone (the exporter wants tensors, not a ModelOutput)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    sample = tokenizer([prefix, prefix], ["A sample sentence.", "Another, longer sample sentence."], padding=True)
    args = tuple(torch.tensor(sample[k], dtype=torch.int64) for k in INPUTS)
    fp32 = Path(folder) / "model.onnx"
    with torch.inference_mode():
        torch.onnx.export(
            Logits(model),
            args,
            str(fp32),
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_axes={k: {0: "batch", 1: "sequence"} for k in (*INPUTS, "logits")},
            opset_version=17,
            dynamo=False,
        )
    if attn and attn != "eager" and hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(attn)
    model.train(was_training)  # the exporter leaves the model in training mode (dropout on)
    return _fuse_bert(fp32, model.config)


def _fuse_bert(path: Path, config) -> Path:
    """ONNX Runtime's BERT fusions (attention, layer norm, GELU): fewer, faster int8 ops."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(
        str(path),
        model_type="bert",
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=0,  # fusions only: the session applies its own graph optimisations at load
    )
    out = path.with_name("model.fused.onnx")
    opt.save_model_to_file(str(out))
    return out


def _marker_rows(path: Path, markers: list[int]) -> bool:
    """Rewrite the fused graph at ``path`` so that the last layer, after its attention, runs
    on the marker rows only: gather those rows from the attention's output and from the
    residual it is added to; the feed-forward block, layer norms and head then see three
    rows instead of the whole sentence, and the logits are ``(batch, markers, 4)``.

    Why here and not in PyTorch: exporting the markers-only layer of training loses ONNX
    Runtime's fusions (~180 loose operators, no faster); two ``Gather`` nodes in the fused
    graph keep every fused op. Float32 the same to the last bit as the full graph; in int8
    the feed-forward block's activations are scaled over those rows, so scores move a little
    (the training's int8 dev cost measures it). False (graph unchanged) if the fusion found
    no attention op or the last one does not feed the pattern of a BERT layer.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    nodes = list(graph.node)
    found = [i for i, n in enumerate(nodes) if n.op_type == "Attention"]
    if not found:
        return False
    k = found[-1]
    residual, attended = nodes[k].input[0], nodes[k].output[0]
    after = nodes[k + 1 :]
    uses = [(n.op_type, j) for n in after for j, name in enumerate(n.input) if name in (residual, attended)]
    if sorted(uses) != [("MatMul", 0), ("SkipLayerNormalization", 1)]:
        return False  # not the fused BERT layer this rewrite knows
    graph.initializer.append(numpy_helper.from_array(np.asarray(markers, dtype=np.int64), "marker_rows"))
    gathers = [
        helper.make_node("Gather", [name, "marker_rows"], [f"{name}_at_markers"], axis=1, name=f"MarkerRows_{j}")
        for j, name in enumerate((residual, attended))
    ]
    for n in after:
        for j, name in enumerate(n.input):
            if name in (residual, attended):
                n.input[j] = f"{name}_at_markers"
    del graph.node[:]
    graph.node.extend([*nodes[: k + 1], *gathers, *after])
    del graph.value_info[:]  # shapes after the gathers changed; the session infers its own
    for out in graph.output:
        dim = out.type.tensor_type.shape.dim[1]
        dim.ClearField("dim_param")
        dim.dim_value = len(markers)
    onnx.save(model, str(path))
    return True


class OnnxEncoder:
    """The int8 model and its tokenizer, loaded without torch or transformers.

    ``logits(sentences, contexts)`` → (n, topics, 1 + stances) at the topic names, batched
    by length (sorted, so a batch pads to its own longest sentence only), the batches shared
    out over one single-threaded session per core (``threads``).
    """

    def __init__(self, folder: Path, threads: int | None = None, context_words: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        meta = json.loads((folder / ONNX_META).read_text(encoding="utf-8"))
        self.prefix, self.markers = meta["prefix"], list(meta["markers"])
        # The rows of the output to read: the markers' positions, or all of them where the
        # graph keeps the markers' rows alone.
        self.rows = list(range(len(self.markers))) if meta.get("marker_rows") else self.markers
        # Folders exported before the cut was written down get it from the model's params.
        self.context_words = meta.get("context_words") or context_words
        tok_file = folder / "tokenizer" / "tokenizer.json"
        if not tok_file.exists():
            raise StanceError(f"{folder}: {ONNX_FILE} without tokenizer/tokenizer.json; retrain with `make train`")
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(meta["max_length"]), strategy="only_second")
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        # One single-threaded session per core, each running its own share of the sentences:
        # a sentence runs alone (see ``logits``), and one sentence is too little work to split
        # over two threads (4.8 ms of CPU per sentence on two threads against 3.4 on one).
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.sessions = [
                ort.InferenceSession(str(folder / meta["file"]), options, providers=["CPUExecutionProvider"])
                for _ in range(max(1, int(threads or os.cpu_count() or 1)))
            ]
        except Exception as exc:  # onnxruntime raises its own exception types
            why = str(exc).splitlines()[0][:160]
            raise StanceError(f"{folder / meta['file']}: cannot load ONNX model: {why}") from exc
        self.session = self.sessions[0]
        self.input_names = [i.name for i in self.session.get_inputs()]

    def encode(self, sentences: list[str], contexts: list[str]) -> list:
        pairs = sentence_pairs(sentences, contexts, self.context_words)
        return self.tokenizer.encode_batch([(self.prefix, p) for p in pairs])

    def logits(self, sentences: list[str], contexts: list[str], batch_size: int = 1, sort: bool = True) -> np.ndarray:
        """``batch_size`` sentences per run (1: no score depends on its neighbours; see the
        ``onnx_batch_size`` parameter); ``sort=False`` batches in input order (padding to each
        batch's longest): for the bench."""
        encodings = self.encode(sentences, contexts)
        lengths = [len(e.ids) for e in encodings]
        order = np.argsort(lengths, kind="stable") if sort else np.arange(len(encodings))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        if not batches:
            return np.zeros((0, len(self.markers), 4), dtype=np.float32)

        def run(session, share) -> list[tuple[np.ndarray, np.ndarray]]:
            done = []
            for idx in share:
                batch = pad_batch([encodings[i] for i in idx], self.pad_id)
                done.append((idx, session.run(None, {k: batch[k] for k in self.input_names})[0][:, self.rows]))
            return done

        n = min(len(self.sessions), len(batches))
        if n == 1:
            parts = [run(self.session, batches)]
        else:  # ONNX Runtime releases the GIL while it runs: the sessions work side by side
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(n) as pool:
                parts = list(pool.map(run, self.sessions[:n], [batches[k::n] for k in range(n)]))
        first = parts[0][0][1]
        out = np.zeros((len(sentences), len(self.markers), first.shape[-1]), dtype=np.float32)
        for part in parts:
            for idx, picked in part:
                out[idx] = picked
        return out


def pad_batch(encodings: list, pad_id: int) -> dict[str, np.ndarray]:
    """Right-padded int64 arrays of one batch, as long as its longest member."""
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n] = e.ids
        mask[row, :n] = 1
        types[row, :n] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
