"""Personal data encrypted: a Temporal payload codec that encrypts every payload with AES-GCM.

Every payload claimflow writes to Temporal (workflow inputs, activity arguments and results,
update and query answers, failure messages and stack traces) is encrypted with the current
key; its metadata names the key (`encryption-key-id`) and says `encoding: binary/encrypted`,
so the server and its Web UI see ciphertext only. Decoding uses the key the payload names, so
rotation is adding a key and making it current: older payloads still decode. A payload that is
not encrypted (a recorded history, a claim from before encryption) passes through unchanged.

Keys come from CLAIMFLOW_KEYS (`id:base64key,id:base64key`, the first is current) or the key
file `{data_dir}/keys` (mode 0600, one `id:base64key` per line, the first is current), which
`claims up` (and any local process) writes on first start. A key is 16, 24 or 32 bytes
(AES-128/192/256); claimflow generates 32.

What stays in clear: search attributes (claim number, state, policy, overdue), workflow ids,
event types and timings, and the read model; none of them carries a customer's name, contact
or fault text. (The SDK sends the workflow's summary and details through the codec too.)
"""

import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from claimflow.keys import KeyConfigError, Keyring, create_key_file, parse_keys, read_key_file

if TYPE_CHECKING:
    from temporalio.client import WorkflowHistory

    from claimflow.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class UndecryptablePayload(ValueError):
    """A payload names a key we do not have, or its ciphertext does not authenticate."""


class EncryptionCodec(PayloadCodec):
    """AES-GCM with the keyring's current key, a fresh 12-byte nonce per payload; the key id is
    authenticated too (associated data). Decoding passes plain payloads through."""

    def __init__(self, keyring: Keyring | None) -> None:
        self._keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._keyring is None:  # a reader without keys (replaying plain histories): nothing is stored
            return list(payloads)
        key_id = self._keyring.current
        cipher = AESGCM(self._keyring.keys[key_id])
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(payload) for payload in payloads]

    def decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        key = self._keyring.keys.get(key_id) if self._keyring else None
        if key is None:
            have = f"; known keys: {', '.join(self._keyring.keys)}" if self._keyring else ""
            raise UndecryptablePayload(
                f"payload encrypted with key id {key_id!r}, which is not configured (CLAIMFLOW_KEYS or the key file){have}"
            )
        try:
            plain = AESGCM(key).decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise UndecryptablePayload(
                f"payload encrypted with key id {key_id!r} does not authenticate: it was altered or the key is wrong"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def data_converter(keyring: Keyring | None) -> DataConverter:
    """claimflow's converter: pydantic payloads, encrypted, failure messages and stack traces
    encoded too. With no keyring (reading only: `reading_converter`) payloads stay plain."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def decoded_history(history: "WorkflowHistory", converter: DataConverter) -> "WorkflowHistory":
    """A copy of `history` with every encrypted payload in it decoded by the converter's codec
    (plain payloads, and so recorded histories, come back as they were)."""
    from temporalio.client import WorkflowHistory

    codec = converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        return history
    events = [type(event)() for event in history.events]
    for copy, event in zip(events, history.events):
        copy.CopyFrom(event)
        _decode_in_place(copy, codec)
    return WorkflowHistory(history.workflow_id, events)


def _decode_in_place(message: Message, codec: EncryptionCodec) -> None:
    if isinstance(message, Payload):
        if message.metadata.get("encoding") == ENCODING:
            message.CopyFrom(codec.decode_one(message))
        return
    for descriptor, value in message.ListFields():
        if descriptor.type != descriptor.TYPE_MESSAGE:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            if descriptor.message_type.fields_by_name["value"].type == descriptor.TYPE_MESSAGE:
                for item in value.values():
                    _decode_in_place(item, codec)
        elif descriptor.is_repeated:
            for item in value:
                _decode_in_place(item, codec)
        else:
            _decode_in_place(value, codec)


# --- keys from the settings --------------------------------------------------------------


def configured_keyring(settings: "Settings") -> Keyring | None:
    """The keys CLAIMFLOW_KEYS or the key file hold, None when neither does. Raises KeyConfigError."""
    if settings.keys:
        return parse_keys(settings.keys.split(","), "CLAIMFLOW_KEYS")
    return read_key_file(settings.key_file)


def keyring_for(settings: "Settings") -> Keyring:
    """The keys a worker, the CLI or the web UI encrypts with. With none configured: on a
    local dev server a key file is created (as `claims up` does); on a cluster (TLS or an API
    key) KeyConfigError, since every process there must share the same keys."""
    keyring = configured_keyring(settings)
    if keyring is not None:
        return keyring
    if settings.is_cluster:
        raise KeyConfigError(
            "no encryption key: set CLAIMFLOW_KEYS (id:base64key, the first is current) or put a key file at "
            f"{settings.key_file} (mode 0600), with the same keys for every worker, web UI and CLI of this cluster"
        )
    return create_key_file(settings.key_file)


def converter_for(settings: "Settings") -> DataConverter:
    return data_converter(keyring_for(settings))


def reading_converter(settings: "Settings | None" = None) -> DataConverter:
    """For reading histories in this process (audit, what-if, replay): the configured keys if
    any, creating nothing; plain histories read without a key."""
    from claimflow.settings import load_settings

    return data_converter(configured_keyring(settings or load_settings()))
