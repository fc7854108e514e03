"""The engine stays headless: store/ never imports the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("textual", "tui", "screens", "rich")


def test_store_sources_import_no_ui() -> None:
    offenders = []
    for path in (ROOT / "store").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_store_loads_no_textual() -> None:
    code = (
        "import sys, store.service, store.net, store.secrets, store.providers\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tui', 'screens')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_screens_run_no_sql() -> None:
    for path in (ROOT / "screens").rglob("*.py"):
        text = path.read_text()
        assert "sqlite3" not in text and "sqlalchemy" not in text and "execute(" not in text, path
