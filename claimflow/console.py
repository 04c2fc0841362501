"""What every `claims` command shares: the consoles, and one clear line per failure."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from claimflow.errors import ClaimError, DatabaseUnusable, TemporalUnreachable
from claimflow.keys import KeyConfigError
from claimflow.settings import Settings, load_settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


# C0 and C1 control characters, DEL, and the bidirectional overrides/isolates: printed raw
# they move the cursor, clear the screen, retitle the window or reorder what is read.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """`text` for a terminal: every control character shown as an escape (`\\x1b`), never
    sent raw. For stored data (names, notes, who acted), whatever it holds."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                        "" if text is None else str(text))


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(safe(message))}", highlight=False)
    raise typer.Exit(1)


class InputError(Exception):
    """Bad command-line input, already worded in the command's flags (`--by …`, `-f key=…`)."""


def explain(error: ValidationError) -> str:
    """A pydantic error as `field: reason` lines, without the URL noise."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors())


def explain_flags(error: ValidationError, flag_of: Callable[[tuple, Any, bool], str | None]) -> str:
    """A pydantic error in the command's own words: `flag_of(loc, input, missing)` gives the
    flag for a field path, with what the user typed unless the value is missing (`--by ''`,
    `-f days=0`; `-f carrier=…`), or None for a check of the whole input."""
    problems = []
    for e in error.errors():
        message = e["msg"].removeprefix("Value error, ")
        missing = e["type"] == "missing"
        flag = flag_of(tuple(e["loc"]), e.get("input"), missing)
        if missing:
            problems.append(f"{flag or 'a value'} is required")
        else:
            problems.append(f"{flag}: {message}" if flag else message)
    return "; ".join(problems)


def cli_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Turn every expected failure into one clear line and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        settings = load_settings()
        try:
            return func(*args, **kwargs)
        except ValidationError as e:
            fail(explain(e))
        except (ClaimError, DatabaseUnusable, InputError, KeyConfigError, TemporalUnreachable) as e:
            fail(str(e))
        except (typer.Exit, typer.Abort):  # the command's own exit
            raise
        except Exception as e:
            if (message := _temporal_or_policy_failure(e, settings)) is None:
                raise
            fail(message)

    return wrapper


def _temporal_or_policy_failure(error: Exception, settings: Settings) -> str | None:
    """The line for a failure Temporal answered or a policy that cannot be used; None for
    any other exception (a bug: its traceback is shown)."""
    # imported here: temporalio and the policy model are for the commands that use them,
    # which have imported them already when they raise these
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from models.policy import PolicyError

    if isinstance(error, PolicyError):
        return str(error)
    if isinstance(error, WorkflowUpdateFailedError):
        return str(error.cause.message if error.cause is not None and hasattr(error.cause, "message") else error)
    if isinstance(error, RPCError):
        if error.status == RPCStatusCode.NOT_FOUND:
            return f"not found: {error.message}"
        return f"Temporal at {settings.temporal_address} answered: {error.message}"
    return None
