"""The house's shape (ARCHITECTURE.md): one direction of dependence, and rooms small enough to read."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

DEVICE = ROOT / "device"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def test_import_contracts_hold():
    """import-linter's contracts in pyproject.toml: the layers, and no import cycle at any depth."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    env = os.environ | {"PYTHONPATH": str(DEVICE)}
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_over_500_lines_and_no_class_over_300():
    too_long = []
    for path in sorted(DEVICE.rglob("*.py")):
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}: class {node.name} {length} lines")
    assert not too_long, too_long
