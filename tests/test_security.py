"""Crafted inputs on every load path run no code: skops files, transformers folders, YAML, HTML.

Each payload writes a marker file if it ever executes; every test asserts the marker is
absent and the load was refused with one line (or the input read as plain data).
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import StanceError

LABELS = Path(__file__).parent / "fixtures" / "labels_custom"


def write_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


def crafted_skops(path: Path, marker: Path) -> Path:
    """A skops file whose only node rebuilds ``builtins.exec(code)``: code runs while loading
    wherever ``builtins.exec`` is trusted (what trusting every ``builtins.`` type did)."""
    code = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode"}
    schema = {
        "__class__": "exec",
        "__module__": "builtins",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [{**code, "content": json.dumps(write_code(marker)), "is_json": True, "__id__": 2}],
            "__id__": 1,
        },
        "__id__": 0,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return path


def test_crafted_skops_file_is_refused_and_runs_nothing(tmp_path):
    import skops.io as sio

    from stance.models import load_skops

    marker = tmp_path / "ran"
    evil = crafted_skops(tmp_path / "topic_model.skops", marker)
    assert sio.get_untrusted_types(file=evil) == ["builtins.exec"]
    with pytest.raises(StanceError, match=r"topic_model\.skops: refusing .*untrusted types builtins\.exec") as err:
        load_skops(evil)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_crafted_model_folder_is_refused_by_stance_score(tmp_path, tiny_model_dir):
    """``stance score --model DIR`` on a folder whose skops file would run code: exit 2, one line."""
    marker = tmp_path / "ran"
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    # A folder in the older skops layout (the arrays format has no code path at all).
    for name in ("topic_model", "stance_model"):
        (folder / f"{name}.npz").unlink(missing_ok=True)
        crafted_skops(folder / f"{name}.skops", marker)
    article = tmp_path / "a.txt"
    article.write_text("Zelensky said Ukraine was ready for a ceasefire.\n")
    res = CliRunner().invoke(app, ["score", str(article), "--model", str(folder), "--format", "jsonl"])
    assert res.exit_code == 2, res.output
    assert "untrusted types builtins.exec" in res.output and "Traceback" not in res.output
    assert not marker.exists()


def test_every_family_saves_only_trusted_types(tmp_path, tiny_model_dir, tiny_labels):
    """What our models contain is all that loading trusts; a new type here fails loudly."""
    import skops.io as sio

    from stance.labels import LabelSet
    from stance.models import TRUSTED_TYPES
    from stance.models.base import StanceClassifier
    from stance.models.embedding import EmbeddingClassifier
    from stance.pipeline.holders import Candidate, HolderModel

    labels = LabelSet.load(tiny_labels)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    emb = EmbeddingClassifier(topics, {})
    emb.fit(labels.sentences("train"), labels.positions("train"))
    emb.holder_model = HolderModel().fit(
        [
            (
                [Candidate("zelensky", "ukraine", {"dep=nsubj": 1.0}), Candidate("author", "other", {"author": 1.0})],
                {"zelensky"},
            ),
            (
                [
                    Candidate("putin", "russia", {"gov_speech_nsubj": 1.0}),
                    Candidate("author", "other", {"author": 1.0}),
                ],
                {"author"},
            ),
        ]
    )
    saved = emb.save(tmp_path / "embedding")
    files = sorted(saved.glob("*.skops")) + sorted(Path(tiny_model_dir).glob("*.skops"))
    # The linear models and the holder model are arrays + JSON now (tests/test_linear_store.py);
    # the embedding family's heads are still skops.
    assert {f.name for f in files} >= {"heads.skops"}
    for f in files:
        assert set(sio.get_untrusted_types(file=f)) <= TRUSTED_TYPES, f.name
    assert StanceClassifier.load(saved).holder_model is not None
    StanceClassifier.load(tiny_model_dir)


@pytest.fixture
def transformer_folder(tmp_path):
    """A saved transformer classifier folder built from the offline base model."""
    from stance.config import default_base_model

    base = Path(default_base_model())
    folder = tmp_path / "clf"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "model").mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(base / name, folder / "tokenizer" / name)
    shutil.copy(base / "config.json", folder / "model" / "config.json")
    (folder / "model" / "model.safetensors").symlink_to(base / "model.safetensors")
    meta = {"family": "transformer", "topics": {"ceasefire": "A ceasefire now."}, "params": {}}
    (folder / "classifier.json").write_text(json.dumps(meta))
    return folder


def test_transformer_folder_with_remote_code_is_refused(tmp_path, transformer_folder):
    from stance.tracking import load_classifier

    marker = tmp_path / "ran"
    model = transformer_folder / "model"
    config = json.loads((model / "config.json").read_text())
    config.update(model_type="evil", auto_map={"AutoModelForTokenClassification": "evil.EvilModel"})
    (model / "config.json").write_text(json.dumps(config))
    (model / "evil.py").write_text(write_code(marker) + "\n")
    with pytest.raises(StanceError, match="cannot load model"):
        load_classifier(transformer_folder)
    assert not marker.exists()


class _Payload:
    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def test_transformer_weights_are_never_unpickled(tmp_path, transformer_folder):
    from stance.tracking import load_classifier

    marker = tmp_path / "ran"
    model = transformer_folder / "model"
    (model / "model.safetensors").unlink()
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(write_code(marker))))
    with pytest.raises(StanceError, match="cannot load model"):
        load_classifier(transformer_folder)
    assert not marker.exists()


def test_yaml_tags_build_no_python_objects(tmp_path):
    from stance.labels.registry import Registry
    from stance.training.train import load_config

    marker = tmp_path / "ran"
    tag = f"!!python/object/apply:os.system ['touch {marker}']"
    labels = tmp_path / "labels"
    shutil.copytree(LABELS, labels)
    (labels / "topics.yaml").write_text(f"topics:\n  - id: ceasefire\n    proposition: {tag}\n")
    with pytest.raises(StanceError, match="topics.yaml"):
        Registry.load(labels)
    config = tmp_path / "c.yaml"
    config.write_text(f"name: x\nfamily: baseline\nseed: {tag}\n")
    with pytest.raises(StanceError, match=r"c.yaml:3: invalid YAML: could not determine a constructor"):
        load_config(config)
    assert not marker.exists()


def test_html_entities_and_scripts_stay_inert(tmp_path):
    """No external entity is resolved (no local file read) and no script runs."""
    from stance.pipeline.formats import html_to_text

    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    html = (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        "<html><head><title>Talks</title><script>document.write('SCRIPTRAN')</script></head>"
        "<body><article><p>Zelensky said Ukraine was ready for a ceasefire in the air and at sea, "
        "and that talks would resume next week in Geneva with European partners.</p>"
        "<p>Entity: &xxe;</p></article></body></html>"
    )
    text, _, _ = html_to_text(html)
    assert "ceasefire" in text
    assert "TOPSECRET" not in text and "SCRIPTRAN" not in text
