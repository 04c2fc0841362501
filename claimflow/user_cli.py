"""`claims user add | list | disable | enable | password`: the web UI's users."""

import sys
from typing import Annotated

import typer
from rich.table import Table

from claimflow.console import cli_errors, out
from claimflow.settings import load_settings
from models.enums import UI_LOCALES, UserRole

# claimflow.users and claimflow.db (SQLAlchemy, argon2) are imported by the commands that use
# them, not when `claims` starts.

user_app = typer.Typer(help="The web UI's users: add, list, disable (in the read-model database).", no_args_is_help=True)


def _engine():
    from claimflow.db import engine_for, migrate

    settings = load_settings()
    engine = engine_for(settings.database_url)
    migrate(engine)
    return engine


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
@cli_errors
def user_add(
    name: Annotated[str, typer.Argument(help="Sign-in name, e.g. amy or amy@example.com.")],
    role: Annotated[UserRole, typer.Option(help="agent, supervisor, auditor or admin.")],
    locale: Annotated[str, typer.Option(help=f"Language of the UI: {' or '.join(UI_LOCALES)}.")] = "en",
    timezone: Annotated[str, typer.Option(help="Time zone times are shown in, e.g. Asia/Shanghai.")] = "UTC",
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add a user (the password is asked for, twice, or read from stdin)."""
    from claimflow.users import add_user

    password = _password(password_stdin)
    row = add_user(_engine(), name, role, password, locale=locale, timezone=timezone, email=email)
    out.print(f"user {row.name} added ({row.role}, {row.locale})", highlight=False, markup=False)


@user_app.command("list")
@cli_errors
def user_list() -> None:
    """Every user: name, role, language, e-mail, disabled."""
    from claimflow.users import list_users

    table = Table("name", "role", "language", "time zone", "e-mail", "status")
    for row in list_users(_engine()):
        status = "disabled" if row.disabled else "active"
        table.add_row(row.name, row.role, row.locale, row.timezone, row.email or "", status)
    out.print(table)


@user_app.command("disable")
@cli_errors
def user_disable(name: Annotated[str, typer.Argument(help="Sign-in name.")]) -> None:
    """Disable a user: their next request is signed out (their actions stay on record)."""
    from claimflow.users import set_disabled

    set_disabled(_engine(), name, True)
    out.print(f"user {name} disabled", highlight=False, markup=False)


@user_app.command("enable")
@cli_errors
def user_enable(name: Annotated[str, typer.Argument(help="Sign-in name.")]) -> None:
    """Enable a disabled user again."""
    from claimflow.users import set_disabled

    set_disabled(_engine(), name, False)
    out.print(f"user {name} enabled", highlight=False, markup=False)


@user_app.command("password")
@cli_errors
def user_password(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Set a user's password."""
    from claimflow.users import set_password

    set_password(_engine(), name, _password(password_stdin))
    out.print(f"password of {name} set", highlight=False, markup=False)
