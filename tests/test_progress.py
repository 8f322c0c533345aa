"""cli/progress.py: bars with an ETA on a terminal, plain lines elsewhere, always on stderr."""

from __future__ import annotations

import io

from rich.console import Console

from stance.cli.progress import ScoreDisplay, TrainDisplay


def terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120), buf


def test_train_display_on_a_terminal_shows_steps_and_eta():
    console, buf = terminal()
    display = TrainDisplay(console)
    display.stage("tiny-transformer", 2, 3)
    for step in range(1, 6):
        display.progress(step, 10)
    task = display.bars.tasks[0]
    assert (task.completed, task.total) == (5, 10)
    display.finished("tiny-transformer", "dev macro-F1 0.500")
    display.close()
    text = buf.getvalue()
    assert "[2/3] tiny-transformer: dev macro-F1 0.500" in text and "10/10" in text and "ETA" in text


def test_train_display_off_a_terminal_prints_lines():
    buf = io.StringIO()
    display = TrainDisplay(Console(file=buf, force_terminal=False, width=120))
    display.stage("tiny-transformer", 1, 1)
    for step in range(1, 11):
        display.progress(step, 10)
    display.finished("tiny-transformer", "dev macro-F1 0.500")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "[1/1] tiny-transformer: training"
    assert any(line.startswith("[1/1] tiny-transformer: 1/10 steps, ETA") for line in lines)
    assert lines[-1] == "[1/1] tiny-transformer: dev macro-F1 0.500"
    assert "\x1b[" not in buf.getvalue()


def test_score_display_shows_the_total_and_an_eta():
    console, buf = terminal()
    display = ScoreDisplay(lambda: 40, enabled=True, after_seconds=0, console=console)
    display.update(10, 55)
    display.close()
    text = buf.getvalue()
    assert "10/40" in text and "ETA" in text and "10 articles, 55 sentences" in text


def test_score_display_without_a_total_is_a_spinner():
    console, buf = terminal()
    display = ScoreDisplay(None, enabled=True, after_seconds=0, console=console)
    display.update(3, 9)
    display.close()
    assert "3 articles" in buf.getvalue() and "ETA" not in buf.getvalue()


def test_score_display_counts_nothing_off_a_terminal():
    counted = []
    display = ScoreDisplay(lambda: counted.append(1) or 5, console=Console(file=io.StringIO(), force_terminal=False))
    display.update(3, 9)
    display.close()
    assert counted == []
