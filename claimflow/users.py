"""The web UI's users, in the read-model database: argon2 hashes, roles, languages."""

import re
import secrets
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from claimflow.claims import ClaimError
from models.enums import UI_LOCALES, UserRole
from models.read_model import UserRow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 256
LOCALES = UI_LOCALES
FIRST_ADMIN = "admin"

_hasher = PasswordHasher()


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ClaimError(
            f"user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ClaimError(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters; this one has {len(password)}")
    return password


def add_user(
    engine: Engine,
    name: str,
    role: UserRole,
    password: str,
    *,
    locale: str = "en",
    timezone: str = "UTC",
    email: str | None = None,
) -> UserRow:
    check_name(name)
    check_password(password)
    if locale not in LOCALES:
        raise ClaimError(f"language {locale!r}: one of {', '.join(LOCALES)}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ClaimError(f"time zone {timezone!r} is not known; e.g. Asia/Shanghai, Europe/Berlin, UTC") from None
    with Session(engine) as session:
        if session.get(UserRow, name) is not None:
            raise ClaimError(f"user {name} already exists")
        row = UserRow(
            name=name,
            role=role.value,
            password_hash=_hasher.hash(password),
            locale=locale,
            timezone=timezone,
            email=email,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def list_users(engine: Engine) -> list[UserRow]:
    with Session(engine) as session:
        return list(session.exec(select(UserRow).order_by(UserRow.name)))


def get_user(engine: Engine, name: str) -> UserRow | None:
    with Session(engine) as session:
        return session.get(UserRow, name)


def _update(engine: Engine, name: str, **values) -> UserRow:
    """Change columns of user `name` (ClaimError when there is no such user)."""
    with Session(engine) as session:
        row = session.get(UserRow, name)
        if row is None:
            raise ClaimError(f"no user {name}")
        for column, value in values.items():
            setattr(row, column, value)
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def set_disabled(engine: Engine, name: str, disabled: bool = True) -> UserRow:
    return _update(engine, name, disabled=disabled)


def set_password(engine: Engine, name: str, password: str) -> None:
    check_password(password)
    _update(engine, name, password_hash=_hasher.hash(password))


def set_preferences(engine: Engine, name: str, locale: str, timezone: str) -> UserRow:
    """A user's language and time zone (checked by the caller)."""
    return _update(engine, name, locale=locale, timezone=timezone)


def authenticate(engine: Engine, name: str, password: str) -> UserRow | None:
    """The user, when the name and password match and the user is not disabled. The hash
    is checked even for an unknown name, so timing does not tell which names exist."""
    row = get_user(engine, name) if NAME.match(name) else None
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password[:PASSWORD_MAX])
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        set_password(engine, name, password)
        return get_user(engine, name)
    return row


def ensure_first_admin(engine: Engine) -> str | None:
    """With no user at all, create `admin` with a random password and return the password
    (to be printed once); otherwise None."""
    if list_users(engine):
        return None
    password = secrets.token_urlsafe(12)
    add_user(engine, FIRST_ADMIN, UserRole.ADMIN, password)
    return password


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))
