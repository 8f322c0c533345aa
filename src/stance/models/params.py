"""One typed parameter model per family: the schema and the defaults in one place.

In: the ``params`` of a config file (or of a saved model). Out: a complete, type-checked
dict; an unknown key or a value of the wrong type is a one-line :class:`StanceError`.
The defaults here are the values ``configs/*.yaml`` ship with, so a config that leaves a
key out trains the same model — except keys added later that change how a saved model
predicts: their defaults are "off", so a model saved before them predicts as it did.
"""

from __future__ import annotations

from typing import Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import StanceError


class FamilyParams(BaseModel):
    """Parameters every family has. ``strict``: YAML's ``2e-4`` (a string) is no number."""

    model_config = ConfigDict(extra="forbid", strict=True)
    seed: int = 13
    topic_threshold: float = 0.5  # tuned on dev after training
    position_threshold: float = 0.0  # lowest finding confidence kept; tuned end to end on dev documents


class BaselineParams(FamilyParams):
    C_stance: float = 4.0
    C_topic: float = 8.0
    word_ngrams: list[int] = [1, 2]
    char_ngrams: list[int] = [2, 5]
    min_df: int = 1
    max_features: int = 60000
    context_weight: float = 0.3
    holder_window: int = 4  # words each side of the holder's name the stance model reads (0: none)


class EmbeddingParams(FamilyParams):
    base_model: str | None = None  # None: the offline all-MiniLM-L6-v2
    max_length: int = 128
    batch_size: int = 64
    C_stance: float = 2.0
    C_topic: float = 4.0


class TransformerParams(FamilyParams):
    base_model: str | None = None  # None: the offline all-MiniLM-L6-v2; or a folder / hub id
    num_layers: int | None = 4  # keep the first N encoder layers (None: all); fewer = faster
    max_length: int = 96
    batch_size: int = 32
    learning_rate: float = 3.0e-4
    epochs: int = 4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    threads: int | None = None  # None: all cores
    max_train_items: int | None = None
    balanced: bool = True  # class-weighted stance loss
    freeze_embeddings: bool = True
    # Each epoch trains on this share of the rows that repeat others (None: all of them).
    optional_fraction: float | None = Field(default=None, gt=0, le=1)
    frozen_layers: int = 0  # also freeze the whole embedding block and the first N encoder layers
    context_words: int | None = None  # the previous sentence cut to its first N words (None: whole)
    attention_dropout: float | None = None  # None: the base model's rate
    markers_only: bool = True  # last layer at the topic names only: training, PyTorch scoring, the ONNX graph (faster)
    inference_dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bfloat16 where native
    predict_batch_size: int = 32
    onnx_export: bool = True  # save also writes the int8 ONNX model (model.int8.onnx)
    onnx_float_attention: int = Field(default=1, ge=0)  # the first N attention blocks stay float32 in it
    # Sentences per int8 ONNX run. Dynamic quantisation scales a run's activations by their
    # range over the whole run, so in a batch a sentence's score depends on its neighbours.
    onnx_batch_size: int = Field(default=1, ge=1)
    runtime: Literal["auto", "onnx", "torch"] = "auto"  # auto: ONNX Runtime where the folder has it


class EnsembleParams(FamilyParams):
    members: list[str] = Field(default=["tfidf-logreg", "minilm-finetune"], min_length=2)  # config names
    weights: list[float] | None = None  # per member; None: tuned on dev (two members) or equal
    weight_grid: list[float] = [0.2, 0.3, 0.4, 0.5, 0.6]  # the second member's weights tried on dev


PARAMS: dict[str, type[FamilyParams]] = {
    "baseline": BaselineParams,
    "embedding": EmbeddingParams,
    "transformer": TransformerParams,
    "ensemble": EnsembleParams,
}


def validate_params(
    family: str, params: dict | None, where: str = "params", model: type[FamilyParams] | None = None
) -> dict:
    """``params`` completed with the family's defaults, or a one-line error naming the key.

    ``model`` is the family's parameter model (default: the built-in family of that name).
    """
    model = model or PARAMS.get(family, FamilyParams)
    params = dict(params or {})
    unknown = sorted(set(params) - set(model.model_fields))
    if unknown:
        known = ", ".join(sorted(model.model_fields))
        raise StanceError(f"{where}: unknown key params.{unknown[0]} for family {family!r} (known: {known})")
    try:
        return model.model_validate(params).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"][:1])
        if err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            raise StanceError(f"{where}: params.{key}: {err['msg'].lower()}, got {err.get('input')!r}") from None
        raise StanceError(f"{where}: params.{key}: {_type_problem(model, key, err.get('input'))}") from None


def _type_problem(model: type[FamilyParams], key: str, value) -> str:
    annotation = model.model_fields[key].annotation
    if get_origin(annotation) is Literal:
        return f"expected one of {', '.join(map(repr, get_args(annotation)))}, got {value!r}"
    if annotation is float or annotation == float | None:
        hint = " (YAML wants a decimal point: write e.g. 2.0e-4)" if isinstance(value, str) else ""
        return f"expected a number, got {value!r}{hint}"
    name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    return f"expected {name}, got {value!r}"
