"""Workflow code and the domain code it shares (models/, passed through the sandbox) read
no clock, no file, no environment and no randomness, and import no I/O."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from claimflow.settings import REPO_ROOT

FORBIDDEN_CALLS = {
    "datetime.now", "datetime.utcnow", "datetime.today", "date.today", "time.time", "time.monotonic",
    "time.perf_counter", "time.sleep", "uuid.uuid1", "uuid.uuid4", "os.getenv", "open",
}  # fmt: skip
FORBIDDEN_NAMES = {"os.environ"}
FORBIDDEN_IMPORTS = {"random", "secrets", "holidays", "sqlalchemy", "sqlmodel", "activities", "claimflow", "socket"}
DOMAIN_FILES = sorted((REPO_ROOT / "models").glob("*.py")) + sorted((REPO_ROOT / "workflows").glob("*.py"))
SQL_TABLES = REPO_ROOT / "models" / "read_model.py"  # the read model's tables: never imported by workflows


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _forbidden(name: str, forbidden: set[str]) -> bool:
    """`name` is a forbidden one, also when reached through a module (datetime.date.today)."""
    return any(name == f or ("." in f and name.endswith("." + f)) for f in forbidden)


def impurities(source: str) -> list[str]:
    """What in `source` reads a clock, a file, the environment or randomness, or imports I/O."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _forbidden(_dotted(node.func), FORBIDDEN_CALLS):
            found.append(f"line {node.lineno}: {_dotted(node.func)}()")
        elif isinstance(node, ast.Attribute) and _forbidden(_dotted(node), FORBIDDEN_NAMES):
            found.append(f"line {node.lineno}: {_dotted(node)}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: import {n}" for n in names if n.split(".")[0] in FORBIDDEN_IMPORTS]
    return found


@pytest.mark.parametrize("path", [p for p in DOMAIN_FILES if p != SQL_TABLES], ids=lambda p: p.name)
def test_domain_and_workflow_code_is_pure(path: Path):
    assert impurities(path.read_text()) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.date.today()",
        "import time\nt = time.time()",
        "import random",
        "data = open('policy.toml').read()",
        "import os\nurl = os.environ['DATABASE_URL']",
        "from activities.notify import NotifyActivities",
        "import holidays",
    ],
)
def test_the_check_finds_each_kind_of_impurity(snippet: str):
    assert impurities(snippet)


def test_workflows_import_no_sql_holidays_or_activities():
    code = (
        "import sys, workflows.claim, workflows.claim_v1\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'sqlmodel', 'holidays', "
        "'activities', 'claimflow', 'alembic', 'psycopg'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


MUTABLE_LITERALS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def module_state(source: str) -> list[str]:
    """Module-level names bound to a mutable list, dict or set: shared by every workflow,
    since workflows/ is passed through the sandbox (worker.SANDBOX)."""
    found = []
    for node in ast.parse(source).body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, MUTABLE_LITERALS) or (
            isinstance(value, ast.Call) and _dotted(value.func) in {"list", "dict", "set", "defaultdict"}
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node).split('=')[0].strip()}")
    return found


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "workflows").glob("*.py")), ids=lambda p: p.name)
def test_workflow_modules_keep_no_mutable_state(path: Path):
    assert module_state(path.read_text()) == []


def test_mutable_module_state_is_found():
    assert module_state("X: list = []\nY = {}\nZ = set()\nW = (1, 2)\nV = frozenset()") == [
        "line 1: X: list", "line 2: Y", "line 3: Z"
    ]  # fmt: skip
