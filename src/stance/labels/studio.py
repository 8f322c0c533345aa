"""Label Studio's side of the labelling loop: the labelling config, tasks, and annotations.

In: the registries (``topics.yaml``, ``actors.yaml``); picked sentences with the model's
findings; a Label Studio JSON export. Out: the labelling config XML, Label Studio tasks
whose ``predictions`` are the model's findings (so the labeller corrects rather than starts
blank), and per annotated task the positions it holds — or the located problems.

One sentence is one task. A task has :data:`SLOTS` position slots; slot *k* is the
controls ``holder_k`` (a registry actor), ``new_holder_k`` (a name the registry lacks),
``topic_k`` and ``stance_k``. ``no_position`` marks a sentence that holds none. The names
here are the only contract between the config, the predictions and the import.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from ..config import AUTHOR, NONE_TOPIC, STANCES
from ..errors import Problem
from .registry import Registry

SLOTS = 4  # positions per sentence; 4 covers 99.9% of the labelled sentences
SENTENCE = "sentence"  # the Text object every control labels
NO_POSITION = "no_position"
PROJECT_TITLE = "stance: positions"


@dataclass(frozen=True)
class Position:
    """One (holder, topic, stance) of a sentence; ``new_holder`` is a name the registry lacks."""

    actor: str
    topic: str
    stance: str
    new_holder: str = ""


@dataclass
class Annotated:
    """One annotated task of an export: the sentence, where it came from, its positions."""

    item: int  # 1-based position in the export, for file:item messages
    task: Any  # Label Studio's task id
    article: str
    sent: int
    text: str
    context: str
    title: str = ""
    date: str | None = None
    source: str = ""
    positions: list[Position] = field(default_factory=list)  # empty: the sentence holds none


# -- the labelling config ------------------------------------------------------------------
def labelling_config(registry: Registry) -> str:
    """The Label Studio labelling config for these registries (a user's new topic or actor
    appears in the interface once the config is written again)."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$title", size="5")
    ET.SubElement(view, "Text", name="before", value="$before", granularity="word")
    ET.SubElement(view, "View", style="padding: 0.6em; border-left: 4px solid #f59e0b; background: #fffbeb")
    view[-1].append(ET.Element("Text", name=SENTENCE, value="$text", granularity="word"))
    ET.SubElement(view, "Text", name="after", value="$after", granularity="word")
    why = ET.SubElement(view, "View", style="margin-top: 0.4em; color: #6b7280; font-style: italic")
    ET.SubElement(why, "Text", name="why", value="$why", granularity="word")
    none = ET.SubElement(view, "Choices", name=NO_POSITION, toName=SENTENCE, choice="multiple")
    ET.SubElement(
        none,
        "Choice",
        value="This sentence holds no position",
        alias=NONE_TOPIC,
        hint="Nobody takes a position on any topic here",
    )
    for k in range(1, SLOTS + 1):
        slot = ET.SubElement(view, "View", style="margin-top: 0.8em; padding-top: 0.4em; border-top: 1px solid #ddd")
        ET.SubElement(slot, "Header", value=f"Position {k}", size="6")
        holder = ET.SubElement(slot, "Choices", name=f"holder_{k}", toName=SENTENCE, choice="single", layout="select")
        for actor in sorted(registry.actors.values(), key=lambda a: (a.id != AUTHOR, a.name.casefold())):
            ET.SubElement(holder, "Choice", value=f"{actor.name} ({actor.id})", alias=actor.id, hint=actor.role)
        ET.SubElement(
            slot,
            "TextArea",
            name=f"new_holder_{k}",
            toName=SENTENCE,
            rows="1",
            maxSubmissions="1",
            placeholder="… or a holder the list lacks: full name",
        )
        topic = ET.SubElement(slot, "Choices", name=f"topic_{k}", toName=SENTENCE, choice="single", layout="inline")
        for t in registry.topics.values():
            ET.SubElement(topic, "Choice", value=t.id, hint=t.proposition.strip())
        stance = ET.SubElement(slot, "Choices", name=f"stance_{k}", toName=SENTENCE, choice="single", layout="inline")
        for s in STANCES:
            ET.SubElement(stance, "Choice", value=s)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


# -- tasks -----------------------------------------------------------------------------
def _choice(name: str, value: str) -> dict:
    return {"from_name": name, "to_name": SENTENCE, "type": "choices", "value": {"choices": [value]}}


def prediction_result(positions: list[Position]) -> list[dict]:
    """Positions as a Label Studio result (the pre-annotation of a task)."""
    if not positions:
        return [_choice(NO_POSITION, NONE_TOPIC)]
    result = []
    for k, p in enumerate(positions[:SLOTS], 1):
        if p.new_holder:
            result.append(
                {
                    "from_name": f"new_holder_{k}",
                    "to_name": SENTENCE,
                    "type": "textarea",
                    "value": {"text": [p.new_holder]},
                }
            )
        else:
            result.append(_choice(f"holder_{k}", p.actor))
        result += [_choice(f"topic_{k}", p.topic), _choice(f"stance_{k}", p.stance)]
    for n, r in enumerate(result):
        r["id"] = f"p{n}"
    return result


def make_task(data: dict[str, Any], positions: list[Position], model_version: str, score: float) -> dict:
    """A Label Studio task: ``data`` (the sentence, its context and where it came from)
    and the model's findings as a prediction."""
    return {
        "data": data,
        "predictions": [
            {"model_version": model_version, "score": round(float(score), 4), "result": prediction_result(positions)}
        ],
    }


# -- annotations of an export ----------------------------------------------------------
_DATA_KEYS = ("article", "sent", "text", "context")


def read_export(tasks: Any, path: str) -> tuple[list[Annotated], list[Problem], int]:
    """The annotated tasks of a Label Studio JSON export, the problems found, and how many
    tasks had no (non-cancelled) annotation yet."""
    problems: list[Problem] = []
    out: list[Annotated] = []
    unlabelled = 0
    if not isinstance(tasks, list):
        return [], [Problem(path, 0, "not a Label Studio JSON export (expected a list of tasks): export as JSON")], 0
    for n, task in enumerate(tasks, 1):
        where = lambda msg, n=n: problems.append(Problem(path, n, msg))  # noqa: E731
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            where("not a Label Studio task (no 'data' object)")
            continue
        data, tid = task["data"], task.get("id", "?")
        missing = [k for k in _DATA_KEYS if k not in data]
        if missing:
            where(f"task {tid}: data lacks {', '.join(missing)}: import only tasks made by `stance labels suggest`")
            continue
        if not isinstance(data["sent"], int) or data["sent"] < 0 or not str(data["text"]).strip():
            where(f"task {tid}: data 'sent' must be a sentence index >= 0 and 'text' a sentence")
            continue
        done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not done:
            unlabelled += 1
            continue
        readings = []
        for a in done:
            positions, found = _positions(a.get("result") or [], f"task {tid}")
            for msg in found:
                where(msg)
            if not found:
                readings.append(positions)
        if len(readings) != len(done):
            continue
        if any(set(r) != set(readings[0]) for r in readings[1:]):
            where(f"task {tid}: its {len(done)} annotations disagree: keep one (delete the others) in Label Studio")
            continue
        out.append(
            Annotated(
                item=n,
                task=tid,
                article=str(data["article"]),
                sent=data["sent"],
                text=str(data["text"]),
                context=str(data["context"] or ""),
                title=str(data.get("title") or ""),
                date=data.get("date") or None,
                source=str(data.get("source") or ""),
                positions=readings[0],
            )
        )
    return out, problems, unlabelled


def _positions(result: list, task: str) -> tuple[list[Position], list[str]]:
    """The positions one annotation's result holds, or what is wrong with it."""
    values: dict[str, str] = {}
    for r in result:
        if not isinstance(r, dict) or not isinstance(r.get("value"), dict):
            return [], [f"{task}: a result entry is not a Label Studio result"]
        v = r["value"]
        picked = v.get("choices") or v.get("text") or []
        if isinstance(picked, list) and picked:
            values[str(r.get("from_name"))] = str(picked[0]).strip()
    problems: list[str] = []
    positions: list[Position] = []
    for k in range(1, SLOTS + 1):
        holder, new = values.get(f"holder_{k}", ""), values.get(f"new_holder_{k}", "")
        topic, stance = values.get(f"topic_{k}", ""), values.get(f"stance_{k}", "")
        if not (holder or new or topic or stance):
            continue
        where = f"{task}, position {k}"
        if holder and new:
            problems.append(f"{where}: both a listed holder ({holder}) and a new one ({new!r}): keep one")
        elif not (holder or new):
            problems.append(f"{where}: no holder (pick 'The article's author' for the writer's own voice)")
        if not topic:
            problems.append(f"{where}: no topic")
        if not stance:
            problems.append(f"{where}: no stance")
        if not problems:
            positions.append(Position(holder, topic, stance, new))
    if values.get(NO_POSITION) and (positions or problems):
        problems.append(f"{task}: marked 'holds no position' but also has positions: keep one")
    return positions, problems
