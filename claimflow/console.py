"""What every `claims` command shares: the consoles, and one clear line per failure."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from claimflow.claims import ClaimError
from claimflow.db import DatabaseUnusable
from claimflow.settings import load_settings
from claimflow.temporal import TemporalUnreachable
from models.policy import PolicyError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def explain(error: ValidationError) -> str:
    """A pydantic error as `field: reason` lines, without the URL noise."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors())


def cli_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Turn every expected failure into one clear line and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        settings = load_settings()
        try:
            return func(*args, **kwargs)
        except ValidationError as e:
            fail(explain(e))
        except (ClaimError, PolicyError, DatabaseUnusable) as e:
            fail(str(e))
        except WorkflowUpdateFailedError as e:
            fail(str(e.cause.message if e.cause is not None and hasattr(e.cause, "message") else e))
        except TemporalUnreachable as e:
            fail(str(e))
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                fail(f"not found: {e.message}")
            fail(f"Temporal at {settings.temporal_address} answered: {e.message}")

    return wrapper
