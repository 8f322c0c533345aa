"""The command line: ``app`` (Typer commands) over the library API, ``writers`` for output."""

from .app import app, main

__all__ = ["app", "main"]
