"""Sessions, CSRF tokens and security headers.

The session is a cookie signed with the secret key (itsdangerous): who is signed in and the
session's CSRF token. HttpOnly, SameSite=Lax, Secure when the public URL is https. Every
visitor gets one (so the sign-in form has a CSRF token too); signing in replaces it.
Every state-changing request must carry the token, as a form field `csrf_token` or, from
htmx, the header `X-CSRF-Token`.
"""

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claimflow.settings import Settings

COOKIE = "claimflow_session"
SESSION_HOURS = 12
CSRF_FIELD, CSRF_HEADER = "csrf_token", "x-csrf-token"

# No inline script or style anywhere: htmx is told not to inject its indicator style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def secret_key(settings: Settings) -> str:
    """CLAIMFLOW_SECRET_KEY, or a random key kept (mode 0600) in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key)
    return key


@dataclass(frozen=True)
class Session:
    user: str | None
    csrf: str
    stamp: str = ""  # of the user's password hash when they signed in: a password change ends other sessions


def password_stamp(password_hash: str) -> str:
    """A short, non-reversible mark of a password hash, carried in the session."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class Sessions:
    def __init__(self, key: str, secure: bool):
        self._signer = URLSafeTimedSerializer(key, salt="claimflow.session")
        self.secure = secure

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_HOURS * 3600)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user, stamp = data.get("u"), data.get("p")
        return Session(
            user=user if isinstance(user, str) else None, csrf=data["c"], stamp=stamp if isinstance(stamp, str) else ""
        )

    def new(self, user: str | None = None, password_hash: str = "") -> Session:
        stamp = password_stamp(password_hash) if user else ""
        return Session(user=user, csrf=secrets.token_urlsafe(32), stamp=stamp)

    def cookie(self, session: Session) -> dict:
        """Keyword arguments for Response.set_cookie."""
        return {
            "key": COOKIE,
            "value": self._signer.dumps({"u": session.user, "c": session.csrf, "p": session.stamp}),
            "max_age": SESSION_HOURS * 3600,
            "httponly": True,
            "samesite": "lax",
            "secure": self.secure,
            "path": "/",
        }


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI, so streaming works)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)
