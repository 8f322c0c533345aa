"""``python -m stance.cli``."""

from .app import app

app()
