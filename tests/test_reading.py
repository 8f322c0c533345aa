"""Reading inputs: text, Markdown, HTML, JSONL, folders, stdin, and every kind of bad input."""

from __future__ import annotations

import io
import json
import time

import pytest

from stance.errors import StanceError
from stance.pipeline.reading import (
    Article,
    InputError,
    InputProblem,
    html_to_text,
    parse_date,
    read_inputs,
    read_text,
)


def _split(items):
    items = list(items)
    arts = [i for i in items if isinstance(i, Article)]
    probs = [i for i in items if isinstance(i, InputProblem)]
    return arts, probs


def test_text_file_header_date_and_title_keep_offsets(tmp_path):
    body = "Zelensky said Kyiv would never cede land.\n\nPeskov disagreed."
    raw = f"date 2025-03-04\nKremlin rejects truce\n\n{body}\n"
    path = tmp_path / "a.txt"
    path.write_text(raw, encoding="utf-8")
    (art,), probs = _split(read_inputs([path]))
    assert probs == []
    assert art.id == str(path) and art.date == "2025-03-04" and art.title == "Kremlin rejects truce"
    # Header lines are blanked, not removed: offsets in the text are offsets in the file.
    assert len(art.text) == len(raw)
    start = art.text.index("Zelensky")
    assert raw[start : start + len(body)] == body
    assert "date" not in art.text and "Kremlin rejects" not in art.text


def test_markdown_front_matter_heading_and_markup(tmp_path):
    raw = (
        "---\ndate: 2025-11-24\nsource: The Post\n---\n\n# Talks end without deal\n\n"
        "**Geneva** — Rubio said the talks had made progress.\n"
    )
    path = tmp_path / "a.md"
    path.write_text(raw, encoding="utf-8")
    (art,), _ = _split(read_inputs([path]))
    assert (art.date, art.title, art.source) == ("2025-11-24", "Talks end without deal", "The Post")
    assert "**" not in art.text and "#" not in art.text
    assert len(art.text) == len(raw)


def test_html_main_text_without_boilerplate(examples_dir):
    (art,), probs = _split(read_inputs([examples_dir / "web_page.html"]))
    assert [p for p in probs if p.level == "error"] == []
    assert art.date == "2025-12-15"
    assert art.title.startswith("Warsaw and Paris back reassurance force")
    assert "Tusk" in art.text and "Lukashenko" in art.text
    for boilerplate in ("cookies", "Subscribe", "All rights reserved", "newsletter", "analytics"):
        assert boilerplate not in art.text


def test_html_falls_back_to_visible_text_when_extraction_fails(monkeypatch):
    import trafilatura

    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **k: None)
    html = (
        "<html><head><script>var x = 1;</script><style>p {}</style></head><body>"
        "<nav>Home | World</nav><div>Sybiha said Ukraine would not trade land for a pause.</div>"
        "<footer>Copyright</footer></body></html>"
    )
    text, meta, note = html_to_text(html)
    assert text == "Sybiha said Ukraine would not trade land for a pause."
    assert "visible text" in note and meta == {}


def test_jsonl_corpus_fields(examples_dir):
    arts, probs = _split(read_inputs([examples_dir / "corpus.jsonl"]))
    assert probs == []
    assert [a.id for a in arts] == [
        "ledger-2025-11-03",
        "ledger-2025-11-20",
        "ledger-2025-12-01",
        "ledger-2025-12-12",
    ]
    assert arts[0].date == "2025-11-03" and arts[0].url.startswith("https://")
    assert arts[0].origin.endswith("corpus.jsonl:1")


def test_jsonl_bad_lines_reported_with_line_and_skipped(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "text": "Peskov said a truce was a trap."}),
                "{not json",
                json.dumps({"id": "c"}),
                json.dumps({"id": "d", "text": "   "}),
                json.dumps(["a", "list"]),
                json.dumps({"text": "No id here.", "date": "yesterday"}),
                json.dumps({"id": 7, "text": "Numeric ids are names too.", "date": "2025-02-30"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    arts, probs = _split(read_inputs([path]))
    assert [a.id for a in arts] == ["a", f"{path}:6", "7"]
    errors = {p.line: p.message for p in probs if p.level == "error"}
    assert set(errors) == {2, 3, 4, 5}
    assert "invalid JSON" in errors[2] and "missing 'text'" in errors[3] and "empty" in errors[4]
    warnings = [p for p in probs if p.level == "warning"]
    assert {p.line for p in warnings} == {6, 7}  # bad dates are ignored, with a warning
    assert str(probs[0]).startswith(f"{path}:2: error: invalid JSON")


def test_strict_makes_a_bad_line_fatal_but_streams_until_then(tmp_path):
    path = tmp_path / "c.jsonl"
    good = json.dumps({"text": "Starmer said troops would guarantee the peace."})
    path.write_text("\n".join([good] * 3 + ["{broken"] + [good]) + "\n", encoding="utf-8")
    stream = read_inputs([path], strict=True)
    assert isinstance(next(stream), Article)  # the corpus is read lazily, line by line
    with pytest.raises(InputError, match=r"c\.jsonl:4: error: invalid JSON.*--strict"):
        list(stream)


def test_empty_binary_missing_and_non_utf8(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "nul.txt").write_bytes(b"abc\x00\x01\x02def" * 10)
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")
    (tmp_path / "latin1.txt").write_bytes("Zelensky said Kyiv would never cede the r\xe9gion.".encode("latin-1"))
    paths = [tmp_path / n for n in ("empty.txt", "nul.txt", "doc.pdf", "latin1.txt")] + [tmp_path / "nope.txt"]
    arts, probs = _split(read_inputs(paths))
    by_file = {p.file.rsplit("/", 1)[-1]: p for p in probs}
    assert "empty file" in by_file["empty.txt"].message and by_file["empty.txt"].level == "error"
    assert "binary" in by_file["nul.txt"].message
    assert "binary file (PDF)" in by_file["doc.pdf"].message
    assert "no such file" in by_file["nope.txt"].message
    assert by_file["latin1.txt"].level == "warning" and "not valid UTF-8" in by_file["latin1.txt"].message
    (latin,) = arts
    assert "\ufffd" in latin.text and latin.text.startswith("Zelensky said")


def test_big_file_is_cut_with_a_warning_quickly(tmp_path):
    import psutil

    para = (
        "Peskov told reporters that a European contingent on Ukrainian soil was out of the "
        "question, and Zelensky said Kyiv would never cede Donbas. "
    ) * 5 + "\n\n"
    path = tmp_path / "big.txt"
    with path.open("w", encoding="utf-8") as fh:
        chunk = para * 1000
        while fh.tell() < 50 * 2**20:
            fh.write(chunk)
    rss = psutil.Process().memory_info().rss
    t = time.perf_counter()
    (art,), probs = _split(read_inputs([path]))
    assert time.perf_counter() - t < 10
    assert len(art.text) <= 1_000_000
    (warn,) = probs
    assert warn.level == "warning" and "MB" in warn.message and "scored the first" in warn.message
    assert psutil.Process().memory_info().rss - rss < 200 * 2**20  # never the whole file
    (small,), _ = _split(read_inputs([path], max_chars=5000))
    assert len(small.text) <= 5000 and small.text.rstrip().endswith(".")  # at a sentence end


def test_folder_recursion_skips_hidden_and_unknown(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.txt").write_text("Macron called for a truce.", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_text("Merz offered guarantees.", encoding="utf-8")
    (tmp_path / "sub" / "deeper" / "c.html").write_text(
        "<html><body><article><p>Orban rejected European troops in Ukraine, saying they would "
        "drag the continent into the war.</p></article></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "sub" / "notes.docx").write_bytes(b"PK\x03\x04junk")
    (tmp_path / ".git" / "x.txt").write_text("hidden", encoding="utf-8")
    arts, probs = _split(read_inputs([tmp_path]))
    names = sorted(a.id.rsplit("/", 1)[-1] for a in arts)
    assert names == ["a.txt", "b.md", "c.html"] and probs == []
    empty = tmp_path / "none"
    empty.mkdir()
    _, (problem,) = _split(read_inputs([empty]))
    assert "holds no .txt" in problem.message


def test_stdin_text_and_jsonl_and_date_fallback():
    text = b"\nZelensky said Ukraine was ready for a ceasefire.\n"
    (art,), _ = _split(read_inputs(["-"], stdin=io.BytesIO(text), date="2025-05-01"))
    assert art.id == "<stdin>" and art.date == "2025-05-01" and "ceasefire" in art.text
    lines = (
        b'{"id": "x", "text": "Lavrov rejected a truce.", "date": "2025-01-02"}\n{"text": "Rutte backed guarantees."}\n'
    )
    arts, _ = _split(read_inputs(["-"], stdin=io.BytesIO(lines), date="2025-05-01"))
    # Metadata wins; --date only fills in articles that carry none.
    assert [(a.id, a.date) for a in arts] == [("x", "2025-01-02"), ("<stdin>:2", "2025-05-01")]
    _, (problem,) = _split(read_inputs(["-"], stdin=io.BytesIO(b"  \n")))
    assert "empty input" in problem.message


def test_bad_date_option_and_parse_date():
    with pytest.raises(StanceError, match="not a date"):
        list(read_inputs(["x"], date="03/04/2025"))
    assert parse_date("2025-03-04T10:00:00Z") == "2025-03-04"
    assert parse_date("2025-13-01") is None and parse_date(None) is None and parse_date("soon") is None


def test_read_text_for_the_api():
    art, probs = read_text("date 2025-06-01\n\nKallas said Europe would back Kyiv.", id="k")
    assert art.id == "k" and art.date == "2025-06-01" and probs == []
    none, probs = read_text("   ")
    assert none is None and "nothing to score" in probs[0].message


def test_duplicate_jsonl_ids_are_refused_with_file_and_line(tmp_path):
    first = tmp_path / "a.jsonl"
    first.write_text(
        "\n".join(
            json.dumps({"id": i, "text": t})
            for i, t in [("x", "Lavrov rejected a truce."), ("y", "Merz backed guarantees."), ("x", "Other text.")]
        )
        + "\n",
        encoding="utf-8",
    )
    second = tmp_path / "b.jsonl"
    second.write_text(json.dumps({"id": "y", "text": "Yet another article."}) + "\n", encoding="utf-8")
    arts, probs = _split(read_inputs([first, second]))
    # Every output names articles by id: a second "x" would be merged with the first.
    assert [(a.id, a.text) for a in arts] == [("x", "Lavrov rejected a truce."), ("y", "Merz backed guarantees.")]
    assert [str(p) for p in probs] == [
        f"{first}:3: error: duplicate article id 'x' (first at line 1); give each article a unique id; skipped",
        f"{second}:1: error: duplicate article id 'y' (first at {first}:2); give each article a unique id; skipped",
    ]
    with pytest.raises(InputError, match=r"a\.jsonl:3: error: duplicate article id 'x'"):
        list(read_inputs([first], strict=True))
    # A file given twice (by itself and in its folder) is read once.
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "one.txt").write_text("Merz backed guarantees.", encoding="utf-8")
    arts, (warn,) = _split(read_inputs([folder / "one.txt", folder]))
    assert len(arts) == 1 and warn.level == "warning" and "given twice" in warn.message


def test_a_numeric_or_non_string_text_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": 1, "text": 42}, {"id": 2, "text": ["a", "list"]}, {"id": 3, "text": True}, {"id": 4, "text": "ok."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    arts, probs = _split(read_inputs([path]))
    assert [a.id for a in arts] == ["4"]
    assert [(p.line, p.level) for p in probs] == [(1, "error"), (2, "error"), (3, "error")]
    assert "'text' is a number (42), not article text" in probs[0].message
    assert "a list" in probs[1].message and "true/false" in probs[2].message


NAV_ONLY = (
    "<html><head><title>World news</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
    "<div class='footer'>Copyright 2019 Example News. All rights reserved.</div></body></html>"
)


def test_html_without_article_text_is_an_error_not_its_navigation(tmp_path):
    path = tmp_path / "nav.html"
    path.write_text(NAV_ONLY, encoding="utf-8")
    arts, (problem,) = _split(read_inputs([path]))
    assert arts == [] and problem.level == "error"
    assert "no article text found" in problem.message
    assert html_to_text(NAV_ONLY)[0] == ""
    menu = "<html><body><div class='menu'><a>Home</a> <a>World</a> <a>Politics</a> <a>Sport</a></div></body></html>"
    assert html_to_text(menu)[0] == ""


ARTICLE_BODY = "<p>Zelensky said Ukraine was ready for a ceasefire in the sky and at sea, starting tomorrow.</p>"


@pytest.mark.parametrize(
    ("head", "body_top", "date"),
    [
        ("", "", None),  # only the copyright footer: no date, not 2019-01-01
        ("<meta property='article:published_time' content='2025-11-18T10:00:00Z'>", "", "2025-11-18"),
        (
            '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2025-09-03T08:00:00"}'
            "</script>",
            "",
            "2025-09-03",
        ),
        ("", "<time datetime='2025-10-02'>2 October</time>", "2025-10-02"),
        ("", "<p>Published 4 August 2025</p>", "2025-08-04"),
        ("", "<p class='byline'>By Ann Lee · December 15, 2025</p>", "2025-12-15"),
    ],
)
def test_html_dates_come_from_metadata_or_a_dated_line_never_a_copyright_year(head, body_top, date):
    page = (
        f"<html><head><title>Truce talks</title>{head}</head><body><article>{body_top}{ARTICLE_BODY}</article>"
        "<footer><p>Copyright 2019 Example News</p><p>© 2019 Example News</p></footer></body></html>"
    )
    text, meta, _ = html_to_text(page)
    assert text.endswith("starting tomorrow.") and "Copyright" not in text and "©" not in text
    assert meta["date"] == date


def test_invisible_characters_are_dropped_and_offsets_point_into_the_input(tmp_path):
    from stance.pipeline.formats import remove_invisible, source_offset

    raw = (
        "Zelensky\u200b said Kyiv\ufeff would never cede Don\u00adbas.\u200e\n\n"
        "Pe\u200bskov dis\u2060agreed.\u00a0Fine."
    )
    path = tmp_path / "z.txt"
    path.write_text(raw, encoding="utf-8")
    (art,), probs = _split(read_inputs([path]))
    assert probs == []
    # ZWSP between letters separates words; the other invisible characters go; NBSP is a space.
    assert art.text == "Zelensky said Kyiv would never cede Donbas.\n\nPe skov disagreed. Fine."
    sentence = "Zelensky said Kyiv would never cede Donbas."
    start = art.text.index(sentence)
    src_start, src_end = art.source_offset(start), art.source_offset(start + len(sentence), end=True)
    assert raw[src_start:src_end] == "Zelensky\u200b said Kyiv\ufeff would never cede Don\u00adbas."
    text, gaps = remove_invisible(raw)
    for i, ch in enumerate(text):
        if ch != " ":
            assert raw[source_offset(gaps, i)] == ch
    assert remove_invisible("plain text") == ("plain text", [])
    # JSONL texts and titles, too.
    line = tmp_path / "c.jsonl"
    line.write_text(json.dumps({"id": "a", "title": "T\u00aditle", "text": "Putin\u200d said no."}) + "\n")
    (art,), _ = _split(read_inputs([line]))
    assert (art.title, art.text) == ("Title", "Putin said no.")
