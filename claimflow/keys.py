"""The payload encryption keys (claimflow/codec.py uses them): parsed from CLAIMFLOW_KEYS or the
key file `{data_dir}/keys`, `id:base64key` each, the first current. Standard library only, so
reading the settings stays cheap."""

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyConfigError(ValueError):
    """A key setting that cannot work; the message names where it came from, never the key."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id; `current` encrypts, every key decrypts. Its repr shows ids only."""

    current: str
    keys: dict[str, bytes] = field(repr=False)
    source: str = ""  # "CLAIMFLOW_KEYS" or the key file's path, for messages


def parse_keys(entries: Iterable[str], source: str) -> Keyring:
    """`id:base64key` entries (blank ones skipped) into a Keyring; the first is current.
    Raises KeyConfigError naming the entry's place and id, never the key."""
    keys: dict[str, bytes] = {}
    for number, entry in enumerate((e.strip() for e in entries), start=1):
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        where = f"{source} entry {number}"
        if not sep or not _ID.match(key_id):
            raise KeyConfigError(
                f"{where} must be id:base64key with an id of letters, digits, '.', '_' or '-' (e.g. k1:<44 base64 characters>)"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyConfigError(f"{where} (key id {key_id!r}): the key is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise KeyConfigError(
                f"{where} (key id {key_id!r}): the key is {len(key)} bytes; AES-GCM needs 16, 24 or 32 "
                "(`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`)"
            )
        if key_id in keys:
            raise KeyConfigError(f"{where}: key id {key_id!r} appears twice")
        keys[key_id] = key
    if not keys:
        raise KeyConfigError(f"{source} holds no key")
    return Keyring(current=next(iter(keys)), keys=keys, source=source)


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh `id:base64key` line (a 256-bit key; the id defaults to today's date)."""
    return f"{key_id or 'k' + date.today().strftime('%Y%m%d')}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def read_key_file(path: Path) -> Keyring | None:
    """The keyring in `path`, None when there is no such file. Raises KeyConfigError when it
    cannot be read or others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise KeyConfigError(f"key file {path} cannot be read: {err.strerror or err}") from None
    if mode & 0o077:
        raise KeyConfigError(f"key file {path} may be read by others (mode {mode & 0o777:o}): `chmod 600 {path}`")
    return parse_keys(text.splitlines(), f"key file {path}")


def create_key_file(path: Path) -> Keyring:
    """Write a key file with one fresh key, mode 0600 (refuses to overwrite one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(new_key_entry() + "\n")
    keyring = read_key_file(path)
    assert keyring is not None
    return keyring
