"""Shared test fixtures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stance.config import LABELS_DIR, STANCES
from stance.models.base import StanceClassifier


def use_temp_store(mp: pytest.MonkeyPatch, folder: Path) -> str:
    """Point MLflow at a SQLite store and an artifact folder under ``folder``; the URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setattr("stance.tracking.artifact_root", lambda: (folder / "artifacts").as_uri())
    return uri


# -- scoring pipeline fixtures (issue 4) ------------------------------------------------
# A tiny labelled corpus in tests/fixtures/tiny_corpus.jsonl (the drafts' document format)
# becomes a labels directory and a BaselineClassifier trained once per session. When the
# real corpus (labels/positions.jsonl) exists, tests still use this one: it trains in a
# second and its documents and splits are fixed.

FIXTURES = Path(__file__).parent / "fixtures"
TINY_CORPUS = FIXTURES / "tiny_corpus.jsonl"


def documents_to_items(docs: list[dict]) -> list[dict]:
    """Draft documents (sentences with positions) → positions.jsonl items."""
    items = []
    for d in docs:
        prev = ""
        for i, s in enumerate(d["sentences"]):
            base = {
                "doc": d["doc"],
                "sent": i,
                "text": s["text"],
                "context": prev,
                "split": d["split"],
            }
            if not s["positions"]:
                items.append(
                    {
                        "id": f"{d['doc']}-{i}-0",
                        **base,
                        "actor": "",
                        "topic": "none",
                        "stance": "neutral",
                    }
                )
            for k, p in enumerate(s["positions"]):
                items.append({"id": f"{d['doc']}-{i}-{k}", **base, **p})
            prev = s["text"]
    return items


@pytest.fixture(scope="session")
def tiny_docs() -> list[dict]:
    return [json.loads(line) for line in TINY_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tiny_labels(tmp_path_factory, tiny_docs) -> Path:
    """A labels directory: the project's registries plus the tiny corpus as positions."""
    out = tmp_path_factory.mktemp("labels")
    for name in ("topics.yaml", "actors.yaml"):
        shutil.copy(LABELS_DIR / name, out / name)
    with (out / "positions.jsonl").open("w", encoding="utf-8") as fh:
        for item in documents_to_items(tiny_docs):
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    with (out / "documents.jsonl").open("w", encoding="utf-8") as fh:
        for d in tiny_docs:
            meta = {k: d[k] for k in ("doc", "title", "date", "genre", "source")}
            fh.write(json.dumps(meta, ensure_ascii=False) + "\n")
    return out


@pytest.fixture(scope="session")
def registry(tiny_labels):
    from stance.labels.registry import Registry

    return Registry.load(tiny_labels)


@pytest.fixture(scope="session")
def tiny_model(tiny_labels):
    """A BaselineClassifier trained on the train and dev documents of the tiny corpus."""
    from stance.labels import LabelSet
    from stance.models.baseline import BaselineClassifier

    labels = LabelSet.load(tiny_labels)
    sentences = labels.sentences()
    sentences = sentences[sentences["split"] != "test"]
    items = labels.positions()
    items = items[items["split"] != "test"]
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    clf = BaselineClassifier(topics, {"topic_threshold": 0.4})
    clf.fit(sentences, items)
    return clf


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model) -> Path:
    return tiny_model.save(tmp_path_factory.mktemp("model") / "tiny")


class KeywordClassifier(StanceClassifier):
    """Deterministic stand-in model: topics and stances from keywords, so tests can assert
    exact findings and confidences (topic 0.9 × stance 0.8 = 0.72 on a keyword hit)."""

    family = "keyword"
    TOPIC_WORDS = {
        "ceasefire": r"ceasefire|truce|pause",
        "territory": r"land|territory|cede|donbas|crimea|occupation",
        "security_guarantees": r"guarantee|troops|peacekeep|backstop|reassurance",
    }
    OPPOSE = re.compile(r"\b(never|not|reject\w*|refus\w*|trap|out of the question|unacceptable)\b", re.I)
    SUPPORT = re.compile(r"\b(ready|support\w*|calls? for|welcome\w*|back\w*|must|should|offer\w*)\b", re.I)

    def __init__(self, topics=None, params=None):
        topics = topics or {t: t for t in self.TOPIC_WORDS}
        super().__init__(topics, params)
        self.calls: list[tuple[str, int]] = []  # (method, rows): tests check batching

    def fit(self, sentences, items):  # pragma: no cover - nothing to learn
        pass

    def _topic_probs(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(("topics", len(frame)))
        return np.array(
            [
                [0.9 if re.search(self.TOPIC_WORDS[t], text, re.I) else 0.1 for t in self.topic_ids]
                for text in frame["text"]
            ]
        ).reshape(len(frame), len(self.topic_ids))

    def _stance_probs(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(("stance", len(frame)))
        out = []
        for text in frame["text"]:
            stance = "oppose" if self.OPPOSE.search(text) else "support" if self.SUPPORT.search(text) else "neutral"
            out.append([0.8 if s == stance else 0.1 for s in STANCES])
        return np.array(out).reshape(len(frame), len(STANCES))

    def _save_weights(self, folder):  # pragma: no cover
        pass

    def _load_weights(self, folder):  # pragma: no cover
        pass


@pytest.fixture()
def keyword_model() -> KeywordClassifier:
    return KeywordClassifier()


@pytest.fixture(scope="session")
def nlp():
    from stance.pipeline.segmentation import load_nlp

    return load_nlp()


@pytest.fixture(scope="session")
def actor_index(registry, nlp):
    from stance.pipeline.actors import ActorIndex

    return ActorIndex(registry, nlp)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "examples"


# -- end of scoring pipeline fixtures ---------------------------------------------------


# -- real `stance` processes (signals, concurrency) ---------------------------------------
SRC = Path(__file__).resolve().parents[1] / "src"


def stance_process_env(home: Path) -> dict[str, str]:
    """Environment for a `python -m stance.cli` subprocess whose store, artifacts, exported
    champion and temporary files all live under ``home``."""
    import os

    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        "STANCE_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "TMPDIR": str(home / "tmp"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


@pytest.fixture(scope="session")
def cli_env():
    """:func:`stance_process_env`, for tests that start `python -m stance.cli` processes."""
    return stance_process_env


# -- real servers on loopback (issue 14) ------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real server process (``mlflow server``, ``mlflow models serve``) on a loopback
    port: started in its own process group, waited for, stopped with its workers."""

    def __init__(self, cmd: list[str], url: str, log: Path, env: dict | None = None, timeout: float = 180):
        import os
        import subprocess
        import sys
        import time
        import urllib.request

        bin_dir = str(Path(sys.executable).parent)  # the scoring server runs `uvicorn` from PATH
        full_env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), **(env or {})}
        self.url = url
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self._fh, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{cmd[:3]} exited with {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{cmd[:3]} did not answer {url} within {timeout} s: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        import os
        import signal
        import subprocess

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._fh.close()


def mlflow_cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "mlflow"]
