"""Nothing outside ``workflows/`` writes an episode's state (DESIGN section 4).

Every state change goes through a named transition in ``workflows``; this scan fails the build if
code elsewhere writes ``state`` directly: ``.update(state=...)``, ``state`` inside
``bulk_create``/``bulk_update``, ``something.state = ...``, ``setattr(x, "state", ...)``, or raw
SQL ``SET ... state =``. The benchmark's synthetic data builder is the one exception the design
allows; it must be listed in ``ALLOWED`` below, by path, with its reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("ehe_register", "imports", "notifications", "bench")  # workflows/ owns the state machine
ALLOWED: dict[str, str] = {  # "path/relative/to/repo.py": "why this file may write states"
    "bench/builder.py": "the benchmark's synthetic data builder (DESIGN section 4), into an empty database",
    "bench/reference_sweep.py": "the benchmark's hand-written SQL yardstick, on a throwaway copy of its database",
}

SQL_SET_STATE = re.compile(r"\bSET\b(?:(?!\bWHERE\b|\bFROM\b|;).)*?\bstate\s*=", re.IGNORECASE | re.DOTALL)


def _keywords_name_state(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "state":
            return True
        if (
            keyword.arg is None  # **{"state": ...}
            and isinstance(keyword.value, ast.Dict)
            and any(isinstance(k, ast.Constant) and k.value == "state" for k in keyword.value.keys)
        ):
            return True
    return False


def _mentions_state(node: ast.AST) -> bool:
    """A keyword argument ``state=`` or the string "state" anywhere inside ``node``."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call) and _keywords_name_state(inner):
            return True
        if isinstance(inner, ast.Constant) and inner.value == "state":
            return True
    return False


def _is_episode_creation(call: ast.Call) -> bool:
    """``Episode(...)``, ``Episode.objects.create(...)``, ``get_or_create`` or ``update_or_create``."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "Episode"
    if isinstance(func, ast.Attribute) and func.attr in ("create", "get_or_create", "update_or_create"):
        root = func.value
        while isinstance(root, ast.Attribute | ast.Call):
            root = root.value if isinstance(root, ast.Attribute) else root.func
        return isinstance(root, ast.Name) and root.id == "Episode"
    return False


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def state_writes(source: str, filename: str = "<string>") -> list[str]:
    """Every direct write of ``state`` in ``source``, as "file:line: what"."""
    tree = ast.parse(source, filename=filename)
    docstrings = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method == "update" and _keywords_name_state(node):
                found.append((node.lineno, ".update(state=...)"))
            elif method in ("bulk_create", "bulk_update") and _mentions_state(node):
                found.append((node.lineno, f"state in {method}()"))
        if isinstance(node, ast.Call) and _is_episode_creation(node) and _mentions_state(node):
            found.append((node.lineno, "an episode created in a state"))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "state"
        ):
            found.append((node.lineno, 'setattr(..., "state", ...)'))
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in ast.walk(target)]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "state":
                found.append((node.lineno, ".state = ..."))
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL_SET_STATE.search(node.value)
        ):
            found.append((node.lineno, "SQL SET state"))
        if isinstance(node, ast.JoinedStr):  # f-strings: scan the literal parts joined together
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL_SET_STATE.search(text):
                found.append((node.lineno, "SQL SET state"))
    return [f"{filename}:{line}: {what}" for line, what in sorted(set(found))]


def scanned_files() -> list[Path]:
    return sorted(
        path
        for folder in SCANNED
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
        and str(path.relative_to(ROOT)) not in ALLOWED
        and ".venv" not in path.parts
    )


def test_the_scan_covers_the_code_outside_workflows() -> None:
    files = {str(path.relative_to(ROOT)) for path in scanned_files()}
    assert "ehe_register/models/children.py" in files
    assert "notifications/services.py" in files
    assert "bench/measure.py" in files
    assert not any(name.startswith("workflows/") or "/migrations/" in name for name in files)


def test_the_allowances_are_the_benchmark_files_and_they_say_so() -> None:
    for path in ALLOWED:
        assert path.startswith("bench/"), path
        text = (ROOT / path).read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        assert "Episode.state" in docstring, f"{path} must say in its docstring that it writes states"


def test_nothing_outside_workflows_writes_an_episode_state() -> None:
    offences = [
        offence
        for path in scanned_files()
        for offence in state_writes(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert offences == [], "Change states only through workflows.services (episode_transition):\n" + "\n".join(offences)


# --- The scanner catches what it is meant to, and only that --------------------------------------

OFFENDING = {
    "queryset update": "Episode.objects.filter(pk=1).update(state='closed')",
    "queryset update over lines": "Episode.objects.filter(\n    pk=1\n).update(\n    version=2,\n    state=s,\n)",
    "update with a dict": "qs.update(**{'state': 'closed'})",
    "bulk_create": "Episode.objects.bulk_create([Episode(child=c, state='monitoring') for c in children])",
    "bulk_update": "Episode.objects.bulk_update(episodes, ['state', 'version'])",
    "bulk_update with fields=": "Episode.objects.bulk_update(episodes, fields=['state'])",
    "attribute assignment": "def f(episode):\n    episode.state = 'closed'",
    "chained assignment": "a = episode.state = 'closed'",
    "tuple assignment": "episode.state, episode.version = 'closed', 3",
    "annotated assignment": "episode.state: str = 'closed'",
    "setattr": "setattr(episode, 'state', 'closed')",
    "creating an episode in a state": "Episode.objects.create(child=child, state='monitoring')",
    "update_or_create with defaults": "Episode.objects.update_or_create(child=c, defaults={'state': 'closed'})",
    "constructing an episode in a state": "episodes = [Episode(child=c, state=s) for c, s in rows]",
    "raw SQL": "cursor.execute(\"UPDATE workflows_episode SET state = 'closed' WHERE id = %s\", [pk])",
    "raw SQL, lower case, several columns": (
        'sql = """\n    update workflows_episode\n    set version = version + 1,\n'
        '        state=%s\n    where id = 1\n"""'
    ),
    "raw SQL in an f-string": "sql = f'UPDATE {table} SET state = %s WHERE id = %s'",
}

HARMLESS = {
    "update of other columns": "Episode.objects.filter(pk=1).update(review_due_on=day, version=F('version') + 1)",
    "reading the state": "if episode.state == 'closed':\n    label = episode.get_state_display()",
    "filtering on the state": "Episode.objects.filter(state='monitoring').update(priority=2)",
    "a local called state": "state = 'closed'\nepisode_state = state",
    "other attribute": "episode.status = 'x'\nform.statement = 'y'",
    "bulk_create without state": "Child.objects.bulk_create([Child(legal_first_name='A')])",
    "SQL reading the state": "cursor.execute('SELECT id FROM workflows_episode WHERE state = %s', ['closed'])",
    "SQL setting something else, state in WHERE": "sql = 'UPDATE x SET version = 2 WHERE state = %s'",
    "a docstring": 'def f():\n    """Never SET state = anything here."""',
    "creating an episode as intake does": "Episode.objects.create(child=child, source='school')",
    "another model with a state": "Job.objects.create(state='queued')",
    "passing a transition": "episode_transition(episode_id=1, transition='imported', state='monitoring')",
}


@pytest.mark.parametrize("snippet", OFFENDING.values(), ids=OFFENDING.keys())
def test_the_scanner_finds_a_planted_state_write(snippet: str) -> None:
    assert state_writes(snippet, "planted.py"), snippet


@pytest.mark.parametrize("snippet", HARMLESS.values(), ids=HARMLESS.keys())
def test_the_scanner_leaves_harmless_code_alone(snippet: str) -> None:
    assert state_writes(snippet, "harmless.py") == []
