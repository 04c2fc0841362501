"""Configuration from the environment, in one place.

| variable | default | meaning |
| --- | --- | --- |
| TEMPORAL_ADDRESS | localhost:7233 | Temporal frontend, host:port |
| TEMPORAL_NAMESPACE | default | Temporal namespace |
| TEMPORAL_TLS | unset | true: TLS, system root CAs; false: no TLS even with an API key |
| TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY | unset | client certificate and its key (PEM files), mTLS; both or neither |
| TEMPORAL_TLS_CA | unset | CA (PEM file) the server's certificate is checked against, instead of the system's |
| TEMPORAL_API_KEY | unset | API key (Temporal Cloud); implies TLS |
| DATABASE_URL | sqlite:///{data_dir}/claims.db | SQLAlchemy URL of the read model |
| CLAIMFLOW_DATA_DIR | $XDG_DATA_HOME/claimflow | dev server database, outbox, logs, default read model |
| CLAIMFLOW_POLICY_DIR | policies/ of the repository | the policy files |
| CLAIMFLOW_RETENTION_DAYS | 730 | how long the namespace keeps a closed claim's history (set by `claims up`/`setup`) |
| CLAIMFLOW_ARCHIVE_EVERY_MINUTES | 10 | how often closed claims are archived into `claim_archive` (a Temporal Schedule) |
| CLAIMFLOW_ACT_TIMEOUT | 30 | seconds `claims act` waits for the claim's answer (its `--wait`) |
| CLAIMFLOW_WEB_HOST | 127.0.0.1 | address the web UI listens on |
| CLAIMFLOW_WEB_PORT | 8000 | port of the web UI |
| CLAIMFLOW_SECRET_KEY | unset | signs sessions, CSRF tokens and customer links; unset: a random key kept in `{data_dir}/secret_key` |
| CLAIMFLOW_PUBLIC_URL | http://{web_host}:{web_port} | the web UI's address as customers reach it (in quote links) |
| TEMPORAL_UI_URL | http://localhost:8233 | Temporal's Web UI, for the "open in Temporal" links |
| SMTP_URL | unset | where notifications are e-mailed: smtp://user:password@host:port, smtps:// for implicit TLS, `?starttls=true` to require STARTTLS (claimflow/mail.py); unset: `claims up` sends to its mail catcher, a lone worker only writes the outbox |
| MAIL_FROM | claimflow@localhost | the sender of every e-mail, `claims@example.com` or `Claims <claims@example.com>` |
| CLAIMFLOW_KEYS | unset | payload encryption keys, `id:base64key,...` (16/24/32-byte AES keys), the first is current; unset: the key file `{data_dir}/keys` (claimflow/codec.py) |
| CLAIMFLOW_MAIL_PORT | 8025 | port of the mail catcher `claims up` runs on 127.0.0.1; it keeps what it receives in `{data_dir}/mail` |

The retention default, 730 days, is the longest claim (a year of warranty and repairs) plus
a year for audits; each closed claim is also archived (history, sha256, final view) in the
read-model database, where retention does not reach.

Any of the TLS variables, or an API key, turns TLS on. An empty variable counts as unset.
Reading never fails: what cannot be read is kept in `problems`, and `claimflow.temporal.connect`
reports it as one line before it dials anything.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_QUEUE = "claims"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    temporal_address: str
    temporal_namespace: str
    data_dir: Path
    policy_dir: Path
    database_url: str = ""  # empty: SQLite in the data directory (see __post_init__)
    temporal_tls: bool | None = None  # TEMPORAL_TLS; None when unset
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: str | None = field(default=None, repr=False)
    retention_days: int = 730  # CLAIMFLOW_RETENTION_DAYS: the longest claim plus an audit year
    archive_every_minutes: int = 10  # CLAIMFLOW_ARCHIVE_EVERY_MINUTES
    act_timeout: int = 30  # CLAIMFLOW_ACT_TIMEOUT: seconds `claims act` waits for an answer
    web_host: str = "127.0.0.1"  # CLAIMFLOW_WEB_HOST
    web_port: int = 8000  # CLAIMFLOW_WEB_PORT
    secret_key: str | None = field(default=None, repr=False)  # CLAIMFLOW_SECRET_KEY (None: see web_secret)
    public_url: str = ""  # CLAIMFLOW_PUBLIC_URL; empty: http://web_host:web_port
    temporal_ui_url: str = "http://localhost:8233"  # TEMPORAL_UI_URL
    smtp_url: str | None = field(default=None, repr=False)  # SMTP_URL (holds a password); None: no SMTP server
    mail_from: str = "claimflow@localhost"  # MAIL_FROM
    mail_port: int = 8025  # CLAIMFLOW_MAIL_PORT: the mail catcher of `claims up`
    keys: str | None = field(default=None, repr=False)  # CLAIMFLOW_KEYS (None: the key file)
    problems: tuple[str, ...] = ()  # configuration that could not be read, one sentence each

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir}/claims.db")
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.web_host}:{self.web_port}")

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    @property
    def key_file(self) -> Path:
        """The payload encryption keys when CLAIMFLOW_KEYS is unset (claimflow/codec.py)."""
        return self.data_dir / "keys"

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox.jsonl"

    @property
    def mailbox_dir(self) -> Path:
        """Where the mail catcher keeps what it receives (claimflow/mailcatcher.py)."""
        return self.data_dir / "mail"

    @property
    def temporal_db(self) -> Path:
        return self.data_dir / "temporal.db"

    @property
    def uses_tls(self) -> bool:
        """TLS is on when TEMPORAL_TLS says so, else when a certificate, a CA or an API key is set."""
        if self.temporal_tls is not None:
            return self.temporal_tls
        return any((self.temporal_tls_cert, self.temporal_tls_key, self.temporal_tls_ca, self.temporal_api_key))

    @property
    def is_cluster(self) -> bool:
        """Configured for a Temporal server someone else runs (TLS or an API key)?"""
        return self.uses_tls or self.temporal_api_key is not None

    @property
    def database_url_for_display(self) -> str:
        """DATABASE_URL without its password."""
        return redact_password(self.database_url)


def redact_password(url: str) -> str:
    return re.sub(r"^([^:/]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _path(name: str) -> Path | None:
    value = _env(name)
    return Path(value).expanduser() if value else None


def _positive_int(name: str, default: int, problems: list[str], at_most: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= at_most:
        problems.append(f"{name} must be a whole number from 1 to {at_most}, not {raw!r}")
        return default
    return int(raw)


def load_settings() -> Settings:
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    data_dir = Path(_env("CLAIMFLOW_DATA_DIR") or data_home / "claimflow").expanduser().absolute()
    problems: list[str] = []
    tls: bool | None = None
    if (raw := _env("TEMPORAL_TLS")) is not None:
        if raw.lower() in _TRUE:
            tls = True
        elif raw.lower() in _FALSE:
            tls = False
        else:
            problems.append(f"TEMPORAL_TLS must be true or false, not {raw!r}")
    return Settings(
        temporal_address=_env("TEMPORAL_ADDRESS") or "localhost:7233",
        temporal_namespace=_env("TEMPORAL_NAMESPACE") or "default",
        data_dir=data_dir,
        policy_dir=Path(_env("CLAIMFLOW_POLICY_DIR") or REPO_ROOT / "policies").expanduser(),
        database_url=_env("DATABASE_URL") or "",
        temporal_tls=tls,
        temporal_tls_cert=_path("TEMPORAL_TLS_CERT"),
        temporal_tls_key=_path("TEMPORAL_TLS_KEY"),
        temporal_tls_ca=_path("TEMPORAL_TLS_CA"),
        temporal_api_key=_env("TEMPORAL_API_KEY"),
        retention_days=_positive_int("CLAIMFLOW_RETENTION_DAYS", 730, problems, at_most=36500),
        archive_every_minutes=_positive_int("CLAIMFLOW_ARCHIVE_EVERY_MINUTES", 10, problems, at_most=7 * 24 * 60),
        act_timeout=_positive_int("CLAIMFLOW_ACT_TIMEOUT", 30, problems, at_most=3600),
        web_host=_env("CLAIMFLOW_WEB_HOST") or "127.0.0.1",
        web_port=_positive_int("CLAIMFLOW_WEB_PORT", 8000, problems, at_most=65535),
        secret_key=_env("CLAIMFLOW_SECRET_KEY"),
        public_url=(_env("CLAIMFLOW_PUBLIC_URL") or "").rstrip("/"),
        temporal_ui_url=(_env("TEMPORAL_UI_URL") or "http://localhost:8233").rstrip("/"),
        smtp_url=_smtp_url(problems),
        mail_from=_mail_from(problems),
        mail_port=_positive_int("CLAIMFLOW_MAIL_PORT", 8025, problems, at_most=65535),
        keys=_keys(problems),
        problems=tuple(problems),
    )


def _smtp_url(problems: list[str]) -> str | None:
    """SMTP_URL when it reads (claimflow.mail.parse_smtp_url), else None and a problem."""
    from claimflow.mail import MailConfigError, parse_smtp_url  # (standard library only at import)

    raw = _env("SMTP_URL")
    if raw is None:
        return None
    try:
        parse_smtp_url(raw)
    except MailConfigError as err:
        problems.append(str(err))
        return None
    return raw


def _mail_from(problems: list[str]) -> str:
    from claimflow.mail import MailConfigError, check_sender

    raw = _env("MAIL_FROM") or "claimflow@localhost"
    try:
        return check_sender(raw)
    except MailConfigError as err:
        problems.append(str(err))
        return "claimflow@localhost"


def _keys(problems: list[str]) -> str | None:
    """CLAIMFLOW_KEYS when it reads (claimflow.codec.parse_keys), else None and a problem
    (which names the entry and key id, never the key)."""
    raw = _env("CLAIMFLOW_KEYS")
    if raw is None:
        return None
    from claimflow.keys import KeyConfigError, parse_keys

    try:
        parse_keys(raw.split(","), "CLAIMFLOW_KEYS")
    except KeyConfigError as err:
        problems.append(str(err))
        return None
    return raw
