"""report.py and `stance report`: tables, figures and files from a small findings corpus."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import StanceError
from stance.io import atomic_write
from stance.report import (
    FindingsError,
    Report,
    as_findings,
    is_findings_file,
    load_findings,
    position_changes,
    position_table,
    side_rollup,
    timeline,
)

LABELS = Path(__file__).resolve().parents[1] / "labels"


def finding(article, sentence, text, actor, side, topic, stance, confidence=0.8, date=None, attribution="reported"):
    return {
        "article": article,
        "sentence": sentence,
        "text": text,
        "actor": actor,
        "side": side,
        "topic": topic,
        "stance": stance,
        "confidence": confidence,
        "attribution": attribution,
        "start": 10 * sentence,
        "end": 10 * sentence + len(text),
        "date": date,
    }


TRUMP_BEFORE = "Trump said a ceasefire must come now, before the summer."
TRUMP_AFTER = "Trump said there would be no ceasefire until Kyiv accepts his terms."

# Three dated articles and one undated op-ed. Injected: Trump flips on the ceasefire
# (support on 2025-03-01 → oppose on 2025-04-10) and Russia on territory across a neutral
# day. Not changes: Zelensky's neutral remark between two supports, the author's flip
# (a different writer per article), and a same-day mix.
CORPUS = [
    finding("a1", 0, TRUMP_BEFORE, "trump", "united_states", "ceasefire", "support", 0.9, "2025-03-01"),
    finding(
        "a1",
        1,
        "Zelensky said Ukraine was ready for a full truce in the air and at sea.",
        "zelensky",
        "ukraine",
        "ceasefire",
        "support",
        0.85,
        "2025-03-01",
    ),
    finding(
        "a1",
        2,
        "Moscow said Kyiv must give up the whole of Donetsk.",
        "russia",
        "russia",
        "territory",
        "support",
        0.8,
        "2025-03-01",
    ),
    finding(
        "a1",
        3,
        "Zelensky said Ukraine would never recognise the occupation.",
        "zelensky",
        "ukraine",
        "territory",
        "oppose",
        0.95,
        "2025-03-01",
    ),
    finding(
        "a1",
        4,
        "The author says guarantees must come first.",
        "author",
        "other",
        "security_guarantees",
        "support",
        0.6,
        "2025-03-01",
        "author",
    ),
    finding(
        "a2",
        0,
        "Zelensky said the truce talks were continuing.",
        "zelensky",
        "ukraine",
        "ceasefire",
        "neutral",
        0.7,
        "2025-03-20",
    ),
    finding(
        "a2",
        1,
        "The Kremlin said the borders question was still being discussed.",
        "russia",
        "russia",
        "territory",
        "neutral",
        0.6,
        "2025-03-20",
    ),
    finding(
        "a2",
        2,
        "Macron said European troops could guarantee a deal.",
        "macron",
        "europe",
        "security_guarantees",
        "support",
        0.9,
        "2025-03-20",
    ),
    finding(
        "a2",
        3,
        "The author says troops in Ukraine would be a mistake.",
        "author",
        "other",
        "security_guarantees",
        "oppose",
        0.6,
        "2025-03-20",
        "author",
    ),
    finding("a3", 0, TRUMP_AFTER, "trump", "united_states", "ceasefire", "oppose", 0.75, "2025-04-10"),
    finding(
        "a3",
        1,
        "Zelensky again called for a ceasefire.",
        "zelensky",
        "ukraine",
        "ceasefire",
        "support",
        0.8,
        "2025-04-10",
    ),
    finding(
        "a3",
        2,
        "Moscow said it would not demand more land.",
        "russia",
        "russia",
        "territory",
        "oppose",
        0.7,
        "2025-04-10",
    ),
    finding(
        "a3",
        3,
        "Macron said a force was ready.",
        "macron",
        "europe",
        "security_guarantees",
        "support",
        0.8,
        "2025-04-10",
    ),
    finding(
        "a3",
        4,
        "Macron said the force would not deploy without a US backstop.",
        "macron",
        "europe",
        "security_guarantees",
        "oppose",
        0.5,
        "2025-04-10",
    ),
    finding(
        "oped",
        0,
        "Peace without guarantees is no peace.",
        "author",
        "other",
        "security_guarantees",
        "support",
        0.9,
        None,
        "author",
    ),
]


@pytest.fixture
def findings_file(tmp_path) -> Path:
    path = tmp_path / "findings.jsonl"
    path.write_text("".join(json.dumps(f) + "\n" for f in CORPUS) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report() -> Report:
    from stance.labels.registry import Registry

    return Report.build(CORPUS, registry=Registry.load(LABELS))


def corpus_findings():
    return as_findings(CORPUS)


def cell(table, **keys) -> dict:
    rows = table
    for k, v in keys.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, keys
    return rows.iloc[0].to_dict()


# -- reading ------------------------------------------------------------------------------


def test_load_findings_reads_every_record_and_skips_blank_lines(findings_file):
    found = load_findings(findings_file)
    assert len(found) == len(CORPUS)
    assert found[0].actor == "trump" and found[0].date == "2025-03-01"
    assert found[-1].date is None


def test_bad_findings_lines_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(CORPUS[0])
    path.write_text(
        "\n".join(
            [
                good,
                "{not json",
                json.dumps({**CORPUS[1], "stance": "maybe"}),
                json.dumps({k: v for k, v in CORPUS[2].items() if k != "actor"}),
                json.dumps({**CORPUS[3], "date": "14/02/2025"}),
                good,
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(FindingsError) as err:
        load_findings(path)
    lines = [(p.line, p.message) for p in err.value.problems]
    assert [line for line, _ in lines] == [2, 3, 4, 5]
    assert "invalid JSON" in lines[0][1]
    assert lines[1][1].startswith("stance:")
    assert lines[2][1] == "missing 'actor' field"
    assert "YYYY-MM-DD" in lines[3][1]
    assert str(err.value).startswith(f"{path}:2: invalid JSON") and "(and 3 more)" in str(err.value)


def test_missing_findings_file_is_one_line_error(tmp_path):
    with pytest.raises(StanceError, match="not found"):
        load_findings(tmp_path / "nope.jsonl")


def test_findings_file_detection(tmp_path, findings_file):
    articles = tmp_path / "articles.jsonl"
    record = {"id": "x", "text": "Zelensky spoke.", "date": "2025-01-01"}
    articles.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert is_findings_file(findings_file)
    assert not is_findings_file(articles)
    assert not is_findings_file(tmp_path / "missing.jsonl")


def test_as_findings_accepts_records_with_the_finding_fields():
    @dataclass
    class Scored:  # shaped like stance.pipeline.scoring.Finding, with an extra field
        article: str
        sentence: int
        text: str
        actor: str
        side: str
        topic: str
        stance: str
        confidence: float
        attribution: str
        start: int
        end: int
        date: str | None
        paragraph: int = 0

    found = as_findings([Scored(**CORPUS[0]), CORPUS[1]])
    assert [f.actor for f in found] == ["trump", "zelensky"]
    with pytest.raises(FindingsError, match="confidence"):
        as_findings([{**CORPUS[0], "confidence": 1.5}])
    with pytest.raises(FindingsError, match="topic 'none'"):
        as_findings([{**CORPUS[0], "topic": "none"}])


# -- tables -------------------------------------------------------------------------------


def test_position_table_counts_and_net_stance(report):
    table = report.positions
    z = cell(table, actor="zelensky", topic="ceasefire")
    assert (z["support"], z["oppose"], z["neutral"], z["n"]) == (2, 0, 1, 3)
    # Net stance weighs statements by confidence: (0.85 + 0.8) / (0.85 + 0.8 + 0.7).
    assert z["net"] == pytest.approx(1.65 / 2.35) and z["stance"] == "support"
    assert z["name"] == "Volodymyr Zelensky" and z["side"] == "ukraine"
    assert z["first_date"] == "2025-03-01" and z["last_date"] == "2025-04-10"
    # Evidence for a support position is the most confident supporting sentence.
    assert z["evidence_text"] == CORPUS[1]["text"]
    t = cell(table, actor="trump", topic="ceasefire")
    # One support at 0.9 against one oppose at 0.75: the confidence-weighted vote of
    # `stance score` says support (the report used to say "mixed").
    assert (t["net"], t["stance"]) == (pytest.approx(0.15 / 1.65), "support")
    m = cell(table, actor="macron", topic="security_guarantees")
    assert (m["support"], m["oppose"], m["net"]) == (2, 1, pytest.approx(1.2 / 2.2))
    # Ordered by side (ukraine before russia before united_states ...).
    sides = ["ukraine", "russia", "united_states", "europe", "other"]
    assert list(dict.fromkeys(table["side"])) == sides
    assert position_table(corpus_findings()).shape[0] == table.shape[0]


def test_side_rollup_adds_up_the_actors_of_a_side(report):
    europe = cell(report.sides, side="europe", topic="security_guarantees")
    assert (europe["support"], europe["oppose"], europe["n"]) == (2, 1, 3)
    assert europe["actors"] == ["macron"]
    other = cell(side_rollup(corpus_findings()), side="other", topic="security_guarantees")
    assert (other["support"], other["oppose"]) == (2, 1)


def test_timeline_has_one_point_per_actor_topic_and_date(report):
    tl = report.timeline
    trump = tl[(tl["actor"] == "trump") & (tl["topic"] == "ceasefire")]
    assert list(trump["date"]) == ["2025-03-01", "2025-04-10"]
    assert list(trump["net"]) == [1.0, -1.0]
    assert list(trump["evidence_article"]) == ["a1", "a3"]
    # The undated op-ed is left out of the timeline.
    assert "oped" not in set(tl["evidence_article"])
    assert len(timeline([])) == 0


def test_position_changes_find_the_injected_flips_only(report):
    changes = report.changes
    got = {(c["actor"], c["topic"], c["before_date"], c["after_date"]) for c in changes.to_dict("records")}
    assert got == {
        ("trump", "ceasefire", "2025-03-01", "2025-04-10"),
        ("russia", "territory", "2025-03-01", "2025-04-10"),
    }
    trump = cell(changes, actor="trump")
    assert (trump["before_stance"], trump["after_stance"]) == ("support", "oppose")
    assert trump["before_evidence"] == TRUMP_BEFORE and trump["after_evidence"] == TRUMP_AFTER
    assert (trump["before_article"], trump["after_article"]) == ("a1", "a3")
    # The author's flip counts once the exclusion is lifted.
    with_author = position_changes(corpus_findings(), exclude=())
    assert "author" in set(with_author["actor"])


def test_summary(report):
    s = report.summary()
    counts = (s["findings"], s["articles"], s["undated findings"], s["position changes"])
    assert counts == (15, 4, 1, 2)
    assert (s["first date"], s["last date"]) == ("2025-03-01", "2025-04-10")


# -- figures and files --------------------------------------------------------------------


def test_heatmap_colour_is_net_stance_and_hover_holds_evidence(report):
    fig = report.heatmap_figure()
    heat = fig.data[0]
    rows, cols = list(heat.y), list(heat.x)
    assert cols == ["ceasefire", "territory", "security_guarantees"]
    r = rows.index("Volodymyr Zelensky · ukraine")
    assert heat.z[r][0] == pytest.approx(1.65 / 2.35)
    assert heat.text[r][0] == "3"
    assert "Zelensky said Ukraine was ready for a full truce" in heat.customdata[r][0]
    assert heat.zmin == -1 and heat.zmax == 1


def test_html_report_is_self_contained_with_figures_and_changes(tmp_path, report):
    out = report.write_html(tmp_path / "sub" / "report.html")
    page = out.read_text(encoding="utf-8")
    assert out.stat().st_size > 1_000_000  # plotly.js is inline
    assert "<script src=" not in page  # no CDN: works offline
    for div in ("heatmap", "rollup", "timeline-ceasefire", "timeline-territory", "timeline-security_guarantees"):
        assert f'id="{div}"' in page, div
    assert page.count("Plotly.newPlot") == 5
    changes = page[page.index("id='position-changes'") : page.index("id='positions'")]
    assert "Donald Trump" in changes and "2025-04-10" in changes
    assert TRUMP_BEFORE in changes
    assert "Trump said there would be no ceasefire until Kyiv" in changes
    assert "Volodymyr Zelensky" not in changes  # a neutral remark is not a change
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_graphml_parses_and_edges_carry_the_counts(tmp_path, report):
    import networkx as nx

    g = nx.read_graphml(report.write_graphml(tmp_path / "positions.graphml"))
    trump = g.nodes["actor:trump"]
    assert (trump["kind"], trump["side"]) == ("actor", "united_states")
    assert trump["label"] == "Donald Trump"
    assert g.nodes["topic:ceasefire"]["kind"] == "topic"
    actors = {n for n, d in g.nodes(data=True) if d["kind"] == "actor"}
    assert nx.bipartite.is_bipartite_node_set(g, actors)
    e = g.edges["actor:trump", "topic:ceasefire"]
    assert (e["support"], e["oppose"], e["neutral"], e["weight"]) == (1, 1, 0, 2)
    assert e["net"] == pytest.approx(0.15 / 1.65)
    e = g.edges["actor:zelensky", "topic:ceasefire"]
    assert (e["support"], e["neutral"], e["weight"]) == (2, 1, 2)
    assert g.number_of_edges() == len(report.positions)
    assert not g.has_edge("actor:trump", "topic:territory")


def test_pngs_are_written(tmp_path, report):
    written = report.write_pngs(tmp_path / "figures")
    names = sorted(p.name for p in written)
    assert names == [
        "heatmap.png",
        "side_rollup.png",
        "timeline_ceasefire.png",
        "timeline_security_guarantees.png",
        "timeline_territory.png",
    ]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000


def test_no_findings_is_an_error_not_an_empty_report(tmp_path):
    with pytest.raises(StanceError, match="no findings"):
        Report([]).write_html(tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old", encoding="utf-8")

    def broken(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# -- CLI ----------------------------------------------------------------------------------


def test_cli_report_from_findings(tmp_path, findings_file):
    out = tmp_path / "reports" / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(findings_file),
            "--out",
            str(out),
            "--png",
            str(tmp_path / "figs"),
            "--graphml",
            str(tmp_path / "g.graphml"),
            "--labels",
            str(LABELS),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.exists() and (tmp_path / "g.graphml").exists()
    assert (tmp_path / "figs" / "heatmap.png").exists()
    assert "2 position change(s)" in result.output


def test_cli_bad_findings_line_exits_2_with_file_line(tmp_path, findings_file):
    with findings_file.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**CORPUS[0], "confidence": "high"}) + "\n")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(findings_file), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{findings_file}:17: confidence" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_missing_labels_dir_exits_2(tmp_path, findings_file):
    result = CliRunner().invoke(
        app, ["report", str(findings_file), "--out", str(tmp_path / "r.html"), "--labels", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "actors.yaml" in result.output


ARTICLES = {
    "kremlin.txt": (
        "date 2025-03-04\n\nKremlin spokesman Dmitry Peskov told reporters that a "
        "European contingent on Ukrainian soil was out of the question. He added that "
        "Moscow would not accept a ceasefire that allowed Kyiv to rearm.\n"
    ),
    "zelensky.txt": (
        "date 2025-03-11\n\nUkrainian President Volodymyr Zelensky said his "
        'government was ready for a full truce in the air and at sea. "We will never '
        'recognise the occupation of our land," Zelensky said.\n'
    ),
}


def test_cli_scores_articles_and_reports_failed_inputs(tmp_path, tiny_model_dir, tiny_labels):
    corpus = tmp_path / "articles"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    out = tmp_path / "report.html"
    args = [
        "report",
        str(corpus),
        "--out",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--labels",
        str(tiny_labels),
        "--graphml",
        str(tmp_path / "g.graphml"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert 'id="heatmap"' in page and "Volodymyr Zelensky" in page
    import networkx as nx

    g = nx.read_graphml(tmp_path / "g.graphml")
    assert "actor:zelensky" in g and g.degree("actor:zelensky") >= 1
    # One missing input: the rest is still reported, exit 1.
    result = CliRunner().invoke(app, args[:2] + [str(tmp_path / "missing.txt")] + args[2:])
    assert result.exit_code == 1, result.output
    assert "missing.txt" in result.output and out.exists()


def test_cli_report_refuses_duplicate_article_ids(tmp_path, tiny_model_dir, tiny_labels):
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"id": "same", "text": text, "date": "2025-03-04"} for text in ARTICLES.values()]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "report.html"
    args = ["report", str(corpus), "--out", str(out), "--model", str(tiny_model_dir), "--labels", str(tiny_labels)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert f"{corpus}:2: error: duplicate article id 'same' (first at line 1)" in result.output
    assert "1 articles" in result.output


# -- issue 11: what users see -----------------------------------------------------------


def test_hovers_show_quotes_as_quotes_and_undated_evidence_as_undated(report):
    quoted = finding("q", 0, 'Zelensky said a truce was "a trap" for Ukraine & its allies.', "zelensky", "ukraine",
                     "ceasefire", "oppose", 0.9, "2025-05-01")  # fmt: skip
    fig = Report.build([quoted]).heatmap_figure()
    hover = fig.data[0].customdata[0][0]
    assert '"a trap"' in hover and "&quot;" not in hover and "&amp;" in hover  # < > & escaped, quotes not
    assert "&#x27;" not in "".join(h for row in report.heatmap_figure().data[0].customdata for h in row)
    cited = [e for ev in report.positions["evidence"] for e in ev]
    assert "Peace without guarantees is no peace. [oped, undated; support 0.90]" in cited
    assert not [e for e in cited if "nan" in e]


def test_net_stance_weighs_statements_by_confidence():
    sure = finding("w", 0, "Lavrov said Russia would never accept a truce.", "lavrov", "russia", "ceasefire",
                   "oppose", 0.95, "2025-05-01")  # fmt: skip
    unsure = finding("w", 1, "Lavrov said a truce could be discussed.", "lavrov", "russia", "ceasefire",
                     "support", 0.27, "2025-05-01")  # fmt: skip
    row = cell(position_table(as_findings([sure, unsure])), actor="lavrov", topic="ceasefire")
    # One statement each way, but the confident one counts 3.5 times as much.
    assert row["net"] == pytest.approx((0.27 - 0.95) / (0.27 + 0.95)) and row["stance"] == "oppose"
    assert cell(side_rollup(as_findings([sure, unsure])), side="russia")["net"] == pytest.approx(row["net"])


def test_timeline_points_that_share_a_date_and_value_are_drawn_apart():
    same = [
        finding("j", i, f"{name} backed a truce.", actor, side, "ceasefire", "support", 0.8, "2025-05-01")
        for i, (name, actor, side) in enumerate(
            [("Macron", "macron", "europe"), ("Starmer", "starmer", "europe"), ("Merz", "merz", "europe")]
        )
    ]
    alone = finding("k", 0, "Macron again backed a truce.", "macron", "europe", "ceasefire", "support", 0.8,
                    "2025-06-01")  # fmt: skip
    report = Report.build([*same, alone])
    spec = report.timeline_specs()["ceasefire"]
    first = sorted(s.x[s.dates.index("2025-05-01")] for s in spec.series)
    assert len(set(first)) == 3  # three actors at +1 on one date: three markers, not one
    assert first[1] == pd.Timestamp("2025-05-01")  # centred on the true date
    macron = next(s for s in spec.series if s.label.startswith("Macron"))
    assert macron.x[macron.dates.index("2025-06-01")] == pd.Timestamp("2025-06-01")  # alone: not moved
    fig = report.timeline_figures()["ceasefire"]
    assert len({tuple(pd.to_datetime(t.x)) for t in fig.data}) == 3
    assert "2025-05-01" in fig.data[0].customdata[0]  # hovers keep the true date


def test_figure_views_carry_a_static_png_for_exported_notebooks(report):
    import base64

    for view in [report.heatmap_view(), report.rollup_view(), *report.timeline_views().values()]:
        bundle = view._repr_mimebundle_()
        assert bundle["application/vnd.plotly.v1+json"]["data"]
        assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        json.dumps(bundle)  # a notebook stores it as JSON


def test_cli_report_min_confidence(tmp_path, findings_file):
    out = tmp_path / "report.html"
    base = ["report", str(findings_file), "--out", str(out), "--labels", str(LABELS)]
    result = CliRunner().invoke(app, [*base, "--min-confidence", "0.8"])
    assert result.exit_code == 0, result.output
    kept = sum(1 for f in CORPUS if f["confidence"] >= 0.8)
    assert f"{kept} findings" in result.output and kept < len(CORPUS)
    result = CliRunner().invoke(app, [*base, "--min-confidence", "0.99"])
    assert result.exit_code == 2 and "lower --min-confidence" in result.output


def test_report_marks_inferred_sides():
    grushko = {**finding("g", 0, "Russian Deputy Foreign Minister Alexander Grushko rejected a truce.", "grushko",
                         "russia", "ceasefire", "oppose", 0.9, "2025-05-01"), "side_inferred": True}  # fmt: skip
    report = Report.build([grushko, CORPUS[0]])
    row = cell(report.positions, actor="grushko")
    assert (row["side"], row["side_inferred"]) == ("russia", True)
    assert not cell(report.positions, actor="trump")["side_inferred"]
    assert "russia <small>(inferred)</small>" in report._positions_html()
