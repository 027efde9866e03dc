"""The house rules of docs/ARCHITECTURE.md, checked over the whole tree (import-linter checks
the import direction itself in ``make lint``)."""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from service import queues

ROOT = Path(__file__).resolve().parent.parent
#: The rooms whose code the rules cover (tests are exempt: a test reads best in one piece).
CODE = ("service", "emails", "workers", "bench")
#: Guidance: a module past this many lines, or a function past that many, is asking to be
#: split by what it does. The test says so (a warning in its summary); it never fails for it,
#: so nobody bends formatting to pass it.
SOFT_MODULE_LINES = 300
SOFT_FUNCTION_LINES = 60
#: A backstop far above the guidance: a module or function this long fails the build.
HARD_MODULE_LINES = 500
HARD_FUNCTION_LINES = 100


def _modules() -> list[Path]:
    return sorted(p for room in CODE for p in (ROOT / room).rglob("*.py"))


def _lengths() -> tuple[dict[str, int], dict[str, int]]:
    modules, functions = {}, {}
    for path in _modules():
        name = str(path.relative_to(ROOT))
        text = path.read_text()
        modules[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                functions[f"{name}:{node.lineno} {node.name}"] = end - node.lineno + 1
    return modules, functions


@pytest.mark.filterwarnings("always::UserWarning")
def test_modules_and_functions_stay_short() -> None:
    modules, functions = _lengths()
    for name, n in modules.items():
        if n > SOFT_MODULE_LINES:
            warnings.warn(f"{name} has {n} lines: does it do more than one thing?", stacklevel=1)
    for name, n in functions.items():
        if n > SOFT_FUNCTION_LINES:
            warnings.warn(f"{name} has {n} lines: could it be split?", stacklevel=1)
    assert {k: n for k, n in modules.items() if n > HARD_MODULE_LINES} == {}
    assert {k: n for k, n in functions.items() if n > HARD_FUNCTION_LINES} == {}


def test_no_formatting_is_bent_to_fit() -> None:
    """``# fmt: skip`` / ``# fmt: off`` only where the formatter would make a table
    unreadable, and then with a comment on the line before saying so."""
    bent = []
    for path in _modules():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            if "fmt: skip" in line or "fmt: off" in line:
                before = lines[number - 2] if number > 1 else ""
                if "table" not in before.lower():
                    bent.append(f"{path.relative_to(ROOT)}:{number}")
    assert bent == []


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


def _packages() -> set[str]:
    return {
        ".".join(init.parent.relative_to(ROOT).parts)
        for room in ("service", "emails", "workers")
        for init in (ROOT / room).rglob("__init__.py")
        if "migrations" not in init.parts
    }


def test_every_package_is_a_room_in_docs_architecture() -> None:
    table = (ROOT / "docs" / "ARCHITECTURE.md").read_text().split("## The rooms", 1)[1]
    listed = set(re.findall(r"^\| `([\w.]+)` \|", table, flags=re.M))
    assert _packages() - listed == set(), "add these packages to docs/ARCHITECTURE.md"
    assert listed - _packages() == set(), "these rooms in docs/ARCHITECTURE.md are gone"


def test_every_package_says_what_lives_in_it() -> None:
    for package in _packages():
        init = ROOT / package.replace(".", "/") / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(docstring.split()) >= 12, f"{package}: its __init__ docstring is its map"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the code and its contracts, to break on purpose."""
    copy = tmp_path_factory.mktemp("scratch")
    for room in ("service", "emails", "workers"):
        shutil.copytree(ROOT / room, copy / room, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(folder)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("service/store/db.py", "import service.readers.lifecycle", "run one way: web"),
        ("service/outbox/claims.py", "import service.web.shared", "imports the web app"),
        ("service/readers/history.py", "import flask", "never imports the web framework"),
        ("service/schedule.py", "import service.store.db", "enters no room"),
        ("emails/render.py", "import service.settings", "workers -> service -> emails"),
    ],
)
def test_an_import_against_the_rooms_fails_the_contracts(
    scratch: Path, module: str, line: str, contract: str
) -> None:
    assert _lint_imports(scratch).returncode == 0  # the copy is as clean as the tree
    target = scratch / module
    original = target.read_text()
    target.write_text(original + f"\n{line}  # noqa\n")
    try:
        broken = _lint_imports(scratch)
    finally:
        target.write_text(original)
    assert broken.returncode != 0
    assert contract in broken.stdout.replace("\n", " "), broken.stdout
