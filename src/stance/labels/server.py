"""A local Label Studio server and the HTTP calls the labelling loop makes to it.

In: a data folder (default ``.label-studio/``, git-ignored), a loopback port, tasks to
import. Out: a running ``label-studio`` process bound to 127.0.0.1 with one admin user
whose API token we chose, and a :class:`StudioClient` that creates or opens the project,
imports tasks, posts annotations and exports.

Label Studio lives in its own virtual environment (``.venv-label-studio``, made by
``make install``): its pins would move numpy, pyarrow and pytz under MLflow, pandas and
torch, so ``stance`` talks to it over HTTP only. ``make label`` and the tests find the
server the same way (:func:`find_label_studio`). ``make install`` also keeps an empty,
migrated database beside it (:data:`TEMPLATE_DB`): a new data folder starts from a copy in
~20 s instead of migrating for two minutes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import PROJECT_ROOT
from ..errors import StanceError

STUDIO_VENV = PROJECT_ROOT / ".venv-label-studio"
STUDIO_DATA = PROJECT_ROOT / ".label-studio"
TEMPLATE_DB = STUDIO_VENV / "template" / "label_studio.sqlite3"
DB_FILE = "label_studio.sqlite3"
LOGIN_FILE = "stance-login.json"
DEFAULT_PORT = 8080
HOST = "127.0.0.1"


def find_label_studio() -> Path:
    """The ``label-studio`` executable: ``$STANCE_LABEL_STUDIO``, then the project's
    ``.venv-label-studio``, then ``PATH``."""
    env = os.environ.get("STANCE_LABEL_STUDIO")
    candidates = [Path(env)] if env else [STUDIO_VENV / "bin" / "label-studio"]
    if not env and (found := shutil.which("label-studio")):
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise StanceError(
        f"Label Studio not found ({candidates[0]}): run `make install` (it makes .venv-label-studio) "
        "or set STANCE_LABEL_STUDIO to a label-studio executable"
    )


@dataclass
class Login:
    """The admin user of a data folder, chosen once and kept in it (mode 0600)."""

    email: str
    password: str
    token: str

    @classmethod
    def of(cls, data_dir: Path) -> Login:
        path = data_dir / LOGIN_FILE
        if path.exists():
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        login = cls("stance@localhost", secrets.token_urlsafe(12), secrets.token_hex(20))
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(login.__dict__), encoding="utf-8")
        path.chmod(0o600)
        return login


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LabelStudio:
    """A ``label-studio start`` process on 127.0.0.1; a context manager that stops it."""

    def __init__(self, data_dir: str | Path = STUDIO_DATA, port: int = DEFAULT_PORT, log: Path | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log = log or self.data_dir / "label-studio.log"
        self.login = Login.of(self.data_dir)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 300.0) -> LabelStudio:
        binary = find_label_studio()
        if not port_free(self.port):
            raise StanceError(f"port {self.port} on {HOST} is in use: pick another with --port (make label PORT=...)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / DB_FILE).exists() and TEMPLATE_DB.exists():
            shutil.copy(TEMPLATE_DB, self.data_dir / DB_FILE)
        env = {
            **os.environ,
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
            "LABEL_STUDIO_USERNAME": self.login.email,
            "LABEL_STUDIO_PASSWORD": self.login.password,
            "LABEL_STUDIO_USER_TOKEN": self.login.token,
            # Token auth for our calls; newer versions default to JWT tokens only.
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LATEST_VERSION_CHECK": "false",  # no call to PyPI on every start
            "COLLECT_ANALYTICS": "false",
        }
        command = [str(binary), "start", "--no-browser", "--internal-host", HOST, "--port", str(self.port)]
        command += ["--enable-legacy-api-token", "--log-level", "WARNING"]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir)
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
                last = tail[0] if tail else "no output"
                raise StanceError(f"Label Studio stopped while starting ({last}); see {self.log}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise StanceError(f"Label Studio did not answer on {self.url} within {timeout:.0f} s; see {self.log}")

    def client(self) -> StudioClient:
        return StudioClient(self.url, self.login.token)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LabelStudio:
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


class StudioClient:
    """The few Label Studio API calls the loop needs (token auth)."""

    def __init__(self, url: str, token: str):
        import requests

        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def _call(self, method: str, path: str, **kwargs):
        import requests

        try:
            r = self.session.request(method, f"{self.url}{path}", timeout=120, **kwargs)
        except requests.RequestException as exc:
            raise StanceError(f"Label Studio at {self.url} cannot be reached: {exc}") from exc
        if not r.ok:
            raise StanceError(f"Label Studio {method} {path}: HTTP {r.status_code}: {r.text[:300]}")
        return r.json() if r.content else None

    def project(self, title: str, label_config: str) -> dict:
        """The project called ``title``, created if missing; its config updated if it changed
        (Label Studio refuses a change that would orphan existing annotations)."""
        for p in self._call("GET", "/api/projects", params={"title": title, "page_size": 1000}).get("results", []):
            if p.get("title") == title:
                if p.get("label_config", "").strip() != label_config.strip():
                    return self._call("PATCH", f"/api/projects/{p['id']}", json={"label_config": label_config})
                return p
        return self._call("POST", "/api/projects", json={"title": title, "label_config": label_config})

    def import_tasks(self, project: int, tasks: list[dict]) -> int:
        """Add tasks (with their predictions) to the project; the number added."""
        return int(self._call("POST", f"/api/projects/{project}/import", json=tasks).get("task_count", 0))

    def tasks(self, project: int) -> list[dict]:
        out, page = [], 1
        while True:
            got = self._call("GET", "/api/tasks", params={"project": project, "page": page, "page_size": 100})
            out += got.get("tasks", [])
            if len(out) >= got.get("total", 0) or not got.get("tasks"):
                return out
            page += 1

    def annotate(self, task: int, result: list[dict]) -> dict:
        return self._call("POST", f"/api/tasks/{task}/annotations", json={"result": result})

    def export(self, project: int) -> list[dict]:
        """Every task (annotated or not) with its annotations, as Label Studio's JSON export."""
        return self._call(
            "GET", f"/api/projects/{project}/export", params={"exportType": "JSON", "download_all_tasks": "true"}
        )
