"""models/pipeline_model.py: the article-level pyfunc model, loaded directly and served by
the real ``mlflow models serve`` on a loopback port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pandas as pd
import pytest

from conftest import Server, free_port, mlflow_cli

ARTICLE = {
    "id": "a1",
    "title": "Talks",
    "date": "2025-03-01",
    "text": "Zelensky said Ukraine will never cede territory to Russia. Putin rejected a ceasefire.",
}


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory, tiny_model_dir, tiny_labels):
    from stance.tracking import save_pipeline_model

    return save_pipeline_model(tmp_path_factory.mktemp("served") / "pipeline", tiny_model_dir, tiny_labels)


@pytest.fixture(scope="module")
def expected(tiny_model_dir, tiny_labels):
    """What single-process scoring finds in ARTICLE with the same classifier and registry."""
    from stance.pipeline.reading import Article
    from stance.pipeline.scoring import Scorer

    result = Scorer(str(tiny_model_dir), tiny_labels).score_batch([Article(**ARTICLE)])[0]
    assert result.findings, "the tiny model should find positions in ARTICLE"
    return result


def test_pipeline_model_carries_its_parts_and_signature(pipeline_dir):
    from mlflow.models import Model

    meta = Model.load(str(pipeline_dir / "MLmodel"))
    inputs = {c.name: c.required for c in meta.signature.inputs.inputs}
    assert inputs == {"id": True, "text": True, "title": False, "date": False, "source": False, "url": False}
    assert {p.name for p in meta.signature.params.params} == {"min_confidence", "on_error"}
    assert "findings" in meta.signature.outputs.input_names()
    assert meta.flavors["python_function"]["config"]["spacy_model"]
    assert (pipeline_dir / "artifacts" / "registry" / "actors.yaml").exists()


def test_loaded_model_gives_the_findings_of_stance_score(pipeline_dir, expected):
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(pipeline_dir))
    out = model.predict(pd.DataFrame([ARTICLE]))
    row = out.iloc[0]
    assert row["article"] == "a1" and row["problem"] is None
    assert list(row["findings"]) == [f.to_dict() for f in expected.findings]
    assert list(row["positions"]) == [p.to_dict() for p in expected.positions]
    # A bad article is a problem row with on_error=record, and fails the call by default.
    both = pd.DataFrame([{"id": "blank", "text": "   "}, ARTICLE])
    recorded = model.predict(both, params={"on_error": "record"})
    assert "'text' is empty" in recorded.iloc[0]["problem"] and recorded.iloc[1]["problem"] is None
    assert list(recorded.iloc[1]["findings"]) == [f.to_dict() for f in expected.findings]
    from stance.models.pipeline_model import RequestError

    with pytest.raises(RequestError, match="article blank: text: 'text' is empty"):
        model.predict(both)
    strict = model.predict(pd.DataFrame([ARTICLE]), params={"min_confidence": 0.99})
    assert list(strict.iloc[0]["findings"]) == []


@pytest.fixture(scope="module")
def served(pipeline_dir, tmp_path_factory):
    port = free_port()
    cmd = [*mlflow_cli(), "models", "serve", "-m", str(pipeline_dir), "--env-manager", "local"]
    server = Server(
        [*cmd, "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/ping",
        tmp_path_factory.mktemp("serve-log") / "serve.log",
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "/invocations", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_served_model_answers_with_findings(served, expected):
    status, body = post(served, json.dumps({"dataframe_records": [ARTICLE]}).encode())
    assert status == 200
    (article,) = body["predictions"]
    assert article["article"] == "a1" and article["date"] == "2025-03-01" and article["problem"] is None
    assert article["findings"] == [f.to_dict() for f in expected.findings]
    assert article["positions"] == [p.to_dict() for p in expected.positions]


def test_malformed_requests_get_a_4xx_with_a_reason_not_a_traceback(served):
    status, body = post(served, json.dumps({"dataframe_records": [{"id": "a1", "text": "  "}]}).encode())
    assert status == 400
    assert body["message"] == "request article a1: text: 'text' is empty"
    status, body = post(served, json.dumps({"dataframe_records": [ARTICLE], "params": {"on_error": "x"}}).encode())
    assert status == 400 and "\n" not in body["message"] and "on_error" in body["message"]
    # Schema enforcement (MLflow's own check) and an unparseable body are 400s too.
    for bad in (json.dumps({"dataframe_records": [{"id": "a1"}]}).encode(), b"not json"):
        status, body = post(served, bad)
        assert status == 400, body
        assert "Traceback" not in json.dumps(body) and "stack_trace" not in body
    assert (
        "missing inputs ['text']"
        in post(served, json.dumps({"dataframe_records": [{"id": "a"}]}).encode())[1]["message"]
    )
