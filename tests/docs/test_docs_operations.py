"""docs/deployment.md and docs/operations.md name only what exists: every environment variable is
read by the server (and every setting the server reads is documented), every metric has the
documented name, type and labels, every alert kind is the server's and the contract's, every
``METHOD /path`` is a route, every ``steller-server`` command and flag is the CLI's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Route

from steller_server.app import create_app
from steller_server.cli import build_parser
from steller_server.db.engine import Database
from steller_server.db.migrate import upgrade
from steller_server.domain.alerts import KINDS
from steller_server.observability import metrics
from steller_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ROOT / "docs" / "deployment.md"
OPERATIONS = ROOT / "docs" / "operations.md"
DOCS = (DEPLOYMENT, OPERATIONS)
#: Texts that send people to endpoints: the two guides and the emails the server sends.
ENDPOINT_TEXTS = (*DOCS, ROOT / "server" / "src" / "steller_server" / "notify" / "templates.py")

ENV_NAME = re.compile(r"\b(?:STELLER|PROMETHEUS)_[A-Z0-9_]*[A-Z0-9]\b")
METRIC_NAME = re.compile(r"\bsteller_[a-z0-9_]+\b(?!\.)")
METRIC_ROW = re.compile(r"^\| `(steller_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|", re.MULTILINE)
ENDPOINT = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[A-Za-z0-9_{}/.\-]*)")
BARE_PATH = re.compile(r"`(/(?:api|sandbox|metrics|status|docs|openapi)[^`\s?#]*)")
COMMAND = re.compile(r"^.*?steller-server ([a-z-]+)([^`\n#|]*)", re.MULTILINE)
SAMPLE_SUFFIXES = ("_bucket", "_count", "_sum")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class _RecordingEnv(dict[str, str]):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.names.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.names.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.names.add(key)
        return super().__contains__(key)


def _settings_read() -> set[str]:
    env = _RecordingEnv()
    Settings.from_env(env)
    return env.names


def _tooling_env_names() -> set[str]:
    """Variables the tests, benchmarks and tools read (a guide may tell operators about them)."""
    names: set[str] = set()
    for folder in ("bench", "tools", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if "docs" not in path.relative_to(ROOT).parts:
                names.update(ENV_NAME.findall(_text(path)))
    return names


def test_every_documented_variable_is_read_and_every_setting_documented() -> None:
    read = _settings_read() | {metrics.MULTIPROC_ENV}
    known = read | _tooling_env_names()
    for doc in DOCS:
        unknown = sorted(set(ENV_NAME.findall(_text(doc))) - known)
        assert not unknown, f"{doc.name} names variables nothing reads: {unknown}"
    undocumented = sorted(read - set(ENV_NAME.findall(_text(DEPLOYMENT))))
    assert not undocumented, f"deployment.md does not document {undocumented}"


@pytest.fixture
async def exposition(tmp_path: Path) -> str:
    """A scrape of an empty, migrated database: every family, at zero."""
    settings = Settings(mode="sandbox", secret_key="d" * 40).replace(
        database_url=f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    )
    upgrade(settings)
    db = Database.from_settings(settings)
    body: bytes
    try:
        body, _ = await metrics.exposition(db, datetime.now(UTC))
    finally:
        await db.dispose()
    return body.decode()


def _families(exposition: str) -> dict[str, str]:
    found = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE))
    return {
        name: kind
        for name, kind in found.items()
        if name.startswith("steller_") and not name.endswith("_created")
    }


def _labels() -> dict[str, tuple[str, ...]]:
    """Label names of the process metrics (the database gauges have theirs in metrics.py)."""
    # prometheus_client keeps label names only on private attributes of the metric objects.
    instance = metrics._m()
    out: dict[str, tuple[str, ...]] = {}
    for metric in vars(instance).values():
        suffix = "_total" if type(metric).__name__ == "Counter" else ""
        out[metric._name + suffix] = tuple(metric._labelnames)
    return out


def test_every_metric_in_operations_md_exists_with_its_type_and_labels(exposition: str) -> None:
    families = _families(exposition)
    text = _text(OPERATIONS)
    rows = METRIC_ROW.findall(text)
    assert {name for name, _, _ in rows} == set(families), "the metric table is not the scrape"
    labels = _labels()
    for name, kind, label_cell in rows:
        assert families[name] == kind, f"{name} is a {families[name]}, the table says {kind}"
        if name in labels:
            documented = tuple(re.findall(r"`(\w+)`", label_cell))
            assert documented == labels[name], f"{name} labels {labels[name]}, doc {documented}"
    mentioned = set(METRIC_NAME.findall(text))
    for name in mentioned:
        base = next((name[: -len(s)] for s in SAMPLE_SUFFIXES if name.endswith(s)), name)
        assert name in families or base in families, f"operations.md names unknown {name}"


def test_alert_kinds_are_the_servers_the_contracts_and_documented() -> None:
    spec = yaml.safe_load(_text(ROOT / "openapi.yaml"))
    assert tuple(spec["components"]["schemas"]["AlertKind"]["enum"]) == KINDS
    section = _text(OPERATIONS).split("## Alerts", 1)[1].split("\n## ", 1)[0]
    missing = [kind for kind in KINDS if f"`{kind}`" not in section]
    assert not missing, f"operations.md ## Alerts does not list {missing}"


def _routes() -> dict[str, set[str]]:
    settings = Settings(mode="sandbox", secret_key="d" * 40)
    app = create_app(settings)
    routes: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, Route):
            routes.setdefault(_shape(route.path), set()).update(route.methods or ())
    return routes


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip(".").rstrip("/") or "/")


def _mentions(path: Path) -> Iterator[tuple[str | None, str]]:
    text = _text(path)
    for method, target in ENDPOINT.findall(text):
        yield method, target
    for target in BARE_PATH.findall(text):
        yield None, target


@pytest.mark.parametrize("document", ENDPOINT_TEXTS, ids=lambda p: p.name)
def test_every_endpoint_mentioned_is_a_route(document: Path) -> None:
    routes = _routes()
    wrong = [
        f"{method or ''} {target}".strip()
        for method, target in _mentions(document)
        if _shape(target) not in routes or (method and method not in routes[_shape(target)])
    ]
    assert not wrong, f"{document.name} names endpoints the server does not have: {wrong}"


def test_every_command_and_flag_is_the_clis() -> None:
    # argparse exposes sub-commands and their options only through private attributes.
    parser = build_parser()
    (commands,) = (a.choices for a in parser._actions if a.dest == "command")
    for doc in DOCS:
        for name, rest in COMMAND.findall(_text(doc)):
            assert name in commands, f"{doc.name}: no command steller-server {name}"
            options = {s for a in commands[name]._actions for s in a.option_strings}
            unknown = sorted(set(re.findall(r"--[a-z][a-z-]*", rest)) - options)
            assert not unknown, f"{doc.name}: steller-server {name} has no {unknown}"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", _text(path), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCS, ids=lambda p: p.name)
def test_links_and_anchors_resolve(document: Path) -> None:
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", _text(document)):
        if "://" in target:
            continue
        linked = (document.parent / target) if target else document
        if not linked.exists() or (anchor and anchor not in _anchors(linked)):
            broken.append(f"{target}#{anchor}" if anchor else target)
    assert not broken, f"{document.name}: broken links {broken}"
