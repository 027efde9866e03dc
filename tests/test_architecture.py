"""The house rules of docs/ARCHITECTURE.md, checked over the whole tree (import-linter checks
the import direction itself in ``make lint``)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from service import queues

ROOT = Path(__file__).resolve().parent.parent
#: The rooms whose code the rules cover (tests are exempt: a test reads best in one piece).
CODE = ("service", "emails", "workers", "bench")
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for room in CODE for p in (ROOT / room).rglob("*.py"))


def test_no_module_is_longer_than_350_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, "split these modules by concept"


def test_no_function_is_longer_than_60_lines() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert long == [], "split these functions"


@pytest.mark.parametrize("job", queues.JOBS)
def test_every_job_name_the_service_enqueues_is_a_worker_function(job: str) -> None:
    module, _, name = job.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def _loaded_by(modules: str, roots: tuple[str, ...]) -> list[str]:
    """The modules under ``roots`` that importing ``modules`` loads, in a fresh interpreter."""
    probe = (
        f"import sys; import {modules}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = ast.literal_eval(result.stdout.strip())
    assert isinstance(loaded, list)
    return loaded


def test_the_web_app_and_the_domain_load_without_the_workers() -> None:
    web = "service.web, service.queues, service.inbox.triage, service.outbox.links"
    assert _loaded_by(web, ("workers",)) == []


def test_the_domain_loads_without_flask() -> None:
    domain = (
        "service.readers.lifecycle, service.outbox.claims, service.inbox.inbound, "
        "service.inbox.triage, service.queues, service.outbox.links, service.context"
    )
    assert _loaded_by(domain, ("flask", "werkzeug")) == []
    assert "flask" in _loaded_by("service.web", ("flask",))  # the probe does see imports


def _commands(listing: str) -> list[str]:
    after = listing.split("Commands:", 1)[1]
    return sorted(line.split()[0] for line in after.splitlines() if line.startswith("  "))


def test_coursemail_and_python_m_workers_cli_list_the_same_commands() -> None:
    venv_bin = Path(sys.executable).parent
    as_script = subprocess.run(
        [str(venv_bin / "coursemail"), "--help"], capture_output=True, text=True, timeout=60
    )
    as_module = subprocess.run(
        [sys.executable, "-m", "workers.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert as_script.returncode == as_module.returncode == 0, as_module.stderr
    assert _commands(as_script.stdout) == _commands(as_module.stdout)
    listed = set(_commands(as_module.stdout))
    assert {"sign-up", "readers", "send-test", "consent", "tick"} <= listed


def test_every_command_defined_in_the_cli_package_is_registered() -> None:
    import click

    import workers.cli as cli

    reachable: set[int] = set()

    def walk(command: click.Command) -> None:
        reachable.add(id(command))
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    walk(cli.main)
    defined = [
        f"{path.stem}.{name}"
        for path in sorted((ROOT / "workers" / "cli").glob("*.py"))
        if path.stem not in ("__init__", "__main__")
        for name, value in vars(importlib.import_module(f"workers.cli.{path.stem}")).items()
        if isinstance(value, click.Command) and id(value) not in reachable
    ]
    assert defined == [], "register these in workers/cli/__init__.py"
