"""Import a Label Studio export into a labels directory.

In: a Label Studio JSON export of tasks made by ``stance labels suggest``, and a labels
directory (its ``topics.yaml`` and ``actors.yaml`` at least). Out: new ``positions.jsonl``
items and ``documents.jsonl`` rows, a line in ``imports.jsonl`` (the manifest MLflow tags
each dataset with), and ``actors.proposed.yaml`` for holders the registry lacks — or the
problems as ``file:item: problem``, with nothing written.

A run of consecutive annotated sentences of one article becomes one document
(``<article>-s<first sentence>``), so every document is labelled sentence by sentence as
``stance labels check`` demands; every document of an article goes to the article's split
(a seeded hash of the article id, 70/15/15), so no article straddles two splits. The whole
result is checked by :func:`stance.labels.corpus.check` itself before anything is written.
A sentence whose holder the registry lacks is held back until the actor is in
``actors.yaml``; importing the same export again then adds it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..errors import LabelsError, Problem, StanceError
from ..io import atomic_write, write_jsonl
from .corpus import DOCUMENTS_FILE, POSITIONS_FILE, SPLITS, check
from .registry import ACTORS_FILE, TOPICS_FILE, Registry
from .studio import Annotated, Position, read_export
from .suggest import normalise

IMPORTS_FILE = "imports.jsonl"
PROPOSED_ACTORS_FILE = "actors.proposed.yaml"
FRACTIONS = (0.70, 0.15, 0.15)


@dataclass
class ImportReport:
    """What an import added, skipped and proposed."""

    import_id: str = ""
    items: int = 0
    sentences: int = 0
    documents: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    unlabelled: int = 0  # tasks with no annotation yet
    duplicates: list[str] = field(default_factory=list)  # why each refused sentence is one
    held_back: int = 0  # sentences waiting for a proposed actor
    proposed: list[str] = field(default_factory=list)  # new actor ids proposed
    written: list[Path] = field(default_factory=list)


def split_of(article: str, seed: int = 13) -> str:
    """The split of every document of an article: a seeded hash, stable across imports."""
    x = int(hashlib.sha256(f"{seed}:{article}".encode()).hexdigest()[:8], 16) / 16**8
    return SPLITS[0] if x < FRACTIONS[0] else SPLITS[1] if x < FRACTIONS[0] + FRACTIONS[1] else SPLITS[2]


def read_manifest(labels_dir: str | Path) -> list[dict]:
    """Every import recorded in ``imports.jsonl``, oldest first."""
    path = Path(labels_dir) / IMPORTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _slug(text: str) -> str:
    from ..pipeline.actors import slugify

    return slugify(text)[:48]


def _registered(name: str, registry: Registry) -> str:
    """The registry id a typed holder name stands for ('' if none)."""
    slug = _slug(name)
    if slug in registry.actors:
        return slug
    return registry.alias_index.get(name.strip().casefold(), "")


def _existing(labels_dir: Path) -> tuple[list[dict], list[dict]]:
    def rows(name: str) -> list[dict]:
        path = labels_dir / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    return rows(POSITIONS_FILE), rows(DOCUMENTS_FILE)


def import_export(export: str | Path, labels_dir: str | Path, seed: int = 13) -> ImportReport:
    """Add the annotated tasks of ``export`` to ``labels_dir`` (see the module docstring).

    Raises :class:`LabelsError` (``file:item: problem``) and writes nothing when the export
    or the result is invalid.
    """
    export, labels_dir = Path(export), Path(labels_dir)
    if not export.is_file():
        raise StanceError(f"{export}: no such file: pass the JSON file Label Studio exported")
    if not (labels_dir / TOPICS_FILE).exists() or not (labels_dir / ACTORS_FILE).exists():
        raise StanceError(f"{labels_dir}: needs {TOPICS_FILE} and {ACTORS_FILE}: pass --labels DIR")
    fresh = ("file missing", "no items")  # an empty labels folder is a fine place to start
    before = [p for p in check(labels_dir) if not (p.file.endswith(POSITIONS_FILE) and p.message.startswith(fresh))]
    if before:
        raise LabelsError(before)
    raw = export.read_bytes()
    try:
        tasks = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelsError([Problem(str(export), 0, f"not JSON ({exc}): export the project as JSON")]) from exc
    annotated, problems, unlabelled = read_export(tasks, str(export))
    if problems:
        raise LabelsError(problems)
    registry = Registry.load(labels_dir)
    positions, documents = _existing(labels_dir)
    manifest = read_manifest(labels_dir)
    report = ImportReport(unlabelled=unlabelled)

    done = {(a, s): m["import"] for m in manifest for a, s in m.get("tasks", [])}
    article_split = {a: s for m in manifest for a, s in m.get("articles", {}).items()}
    labelled = {normalise(r.get("text", "")): (r.get("doc"), r.get("sent")) for r in positions}
    keep: list[Annotated] = []
    seen: dict = {}  # (article, sentence) and sentence text → the first task that has it
    proposed: dict[str, str] = {}
    for a in annotated:
        key = (a.article, a.sent)
        if key in done:
            report.duplicates.append(f"task {a.task}: already imported ({done[key]})")
            continue
        if normalise(a.text) in labelled:
            doc, sent = labelled[normalise(a.text)]
            report.duplicates.append(f"task {a.task}: sentence already labelled (doc {doc!r} sentence {sent})")
            continue
        twin = seen.get(key) or seen.get(normalise(a.text))
        if twin is not None:
            if set(twin.positions) != set(a.positions):
                problems.append(
                    Problem(str(export), a.item, f"task {a.task}: same sentence as item {twin.item}, other labels")
                )
            else:
                report.duplicates.append(f"task {a.task}: same sentence as task {twin.task}")
            continue
        seen[key] = seen[normalise(a.text)] = a
        new = {p.new_holder: _registered(p.new_holder, registry) for p in a.positions if p.new_holder}
        if not all(new.values()):
            for name, actor in new.items():
                if not actor:
                    proposed.setdefault(_slug(name), name)
            report.held_back += 1
            continue
        # A name that is in actors.yaml by now (an id, alias or display name) takes that id.
        a.positions = [Position(p.actor or new[p.new_holder], p.topic, p.stance) for p in a.positions]
        keep.append(a)
    if problems:
        raise LabelsError(problems)

    new_items, sources, new_docs = _to_rows(keep, article_split, seed, {r.get("doc") for r in documents + positions})
    line_item = {len(positions) + 1 + n: a for n, a in enumerate(sources)}
    _validate(labels_dir, positions + new_items, documents + new_docs, export, line_item)

    now = datetime.now(timezone.utc)
    report.import_id = f"import-{now:%Y%m%dT%H%M%SZ}-{hashlib.sha256(raw).hexdigest()[:8]}"
    report.items = len(new_items)
    report.sentences = len(keep)
    report.documents = [d["doc"] for d in new_docs]
    for a in keep:
        article_split.setdefault(a.article, split_of(a.article, seed))
    for d in new_docs:
        report.splits[d["split"]] = report.splits.get(d["split"], 0) + 1
    report.proposed = sorted(proposed)
    if proposed:
        report.written.append(_propose(labels_dir, proposed, export, now))
    if not new_items:
        report.import_id = ""  # nothing new: no manifest entry
        return report
    entry = {
        "import": report.import_id,
        "export": export.name,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "at": now.isoformat(timespec="seconds"),
        "items": report.items,
        "sentences": report.sentences,
        "documents": report.documents,
        "articles": {a.article: article_split[a.article] for a in keep},
        "tasks": [[a.article, a.sent] for a in keep],
    }
    docs_rows = documents + [{k: v for k, v in d.items() if k != "split"} for d in new_docs]
    report.written += [
        write_jsonl(labels_dir / DOCUMENTS_FILE, docs_rows),
        write_jsonl(labels_dir / IMPORTS_FILE, manifest + [entry]),
        write_jsonl(labels_dir / POSITIONS_FILE, positions + new_items),  # last: the digest moves with it
    ]
    return report


def _to_rows(keep: list[Annotated], article_split: dict, seed: int, taken_docs: set) -> tuple[list, list, list]:
    """Items (with the annotated task each came from) and document rows: one document per
    run of consecutive sentences of an article."""
    items, sources, docs = [], [], []
    by_article: dict[str, list[Annotated]] = {}
    for a in keep:
        by_article.setdefault(a.article, []).append(a)
    for article, sents in by_article.items():
        sents.sort(key=lambda a: a.sent)
        runs: list[list[Annotated]] = []
        for a in sents:
            if runs and runs[-1][-1].sent + 1 == a.sent:
                runs[-1].append(a)
            else:
                runs.append([a])
        split = article_split.get(article) or split_of(article, seed)
        for run in runs:
            doc = f"{_slug(article)}-s{run[0].sent:03d}"
            while doc in taken_docs:
                doc += "x"
            taken_docs.add(doc)
            first = run[0]
            docs.append(
                {
                    "doc": doc,
                    "title": first.title,
                    "date": first.date,
                    "genre": "",
                    "source": first.source,
                    "split": split,
                }
            )
            prev = first.context
            for i, a in enumerate(run):
                base = {"doc": doc, "sent": i, "text": a.text, "context": prev if i else a.context}
                positions = a.positions or [None]
                for k, p in enumerate(positions):
                    row = {
                        "id": f"{doc}-{i:02d}-{k}",
                        **base,
                        "actor": p.actor if p else "",
                        "topic": p.topic if p else "none",
                        "stance": p.stance if p else "neutral",
                        "split": split,
                    }
                    items.append(row)
                    sources.append(a)
                prev = a.text
    return items, sources, docs


def _validate(labels_dir: Path, positions: list, documents: list, export: Path, line_item: dict):
    """Run ``stance labels check`` on the result in a scratch copy; problems of new lines are
    told at the export item they came from."""
    with tempfile.TemporaryDirectory(prefix="stance-import-") as tmp:
        tmp = Path(tmp)
        for name in (TOPICS_FILE, ACTORS_FILE):
            shutil.copy(labels_dir / name, tmp / name)
        write_jsonl(tmp / POSITIONS_FILE, positions)
        write_jsonl(tmp / DOCUMENTS_FILE, [{k: v for k, v in d.items() if k != "split"} for d in documents])
        found = check(tmp)
    problems = []
    for p in found:
        a = line_item.get(p.line) if p.file.endswith(POSITIONS_FILE) else None
        if a is not None:
            problems.append(Problem(str(export), a.item, f"task {a.task}: {p.message}"))
        else:
            problems.append(Problem(str(labels_dir / Path(p.file).name), p.line, p.message))
    if problems:
        raise LabelsError(problems)


def _propose(labels_dir: Path, proposed: dict[str, str], export: Path, now: datetime) -> Path:
    """Add proposed actors to ``actors.proposed.yaml`` for review (never to ``actors.yaml``)."""
    path = labels_dir / PROPOSED_ACTORS_FILE
    current = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries = list((current or {}).get("actors") or [])
    have = {e.get("id") for e in entries if isinstance(e, dict)}
    for slug, name in sorted(proposed.items()):
        if slug not in have:
            entries.append({"id": slug, "name": name, "side": "other", "role": "", "aliases": [name]})
    header = (
        f"# Holders the labellers named that {ACTORS_FILE} lacks (last: {export.name}, {now:%Y-%m-%d %H:%M} UTC).\n"
        f"# Review each: fix side (ukraine | russia | united_states | europe | belarus | nato | other),\n"
        f"# role and aliases, move the ones you accept into {ACTORS_FILE}, then run the import again:\n"
        "# the sentences they hold are added then. Nothing here is used until you move it.\n"
    )
    text = header + yaml.safe_dump({"actors": entries}, sort_keys=False, allow_unicode=True)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
