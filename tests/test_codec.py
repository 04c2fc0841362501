"""Personal data encrypted (claimflow/codec.py): the codec on its own, a real claim on the dev
server whose raw history carries no personal data in clear, and the web UI's codec endpoint."""

import asyncio
import base64
import os
import stat

import pytest
from sqlalchemy import text
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from claimflow.audit import audit_claim
from claimflow.codec import (
    ENCODING,
    KEY_ID,
    UndecryptablePayload,
    configured_keyring,
    data_converter,
    decoded_history,
    keyring_for,
)
from claimflow.keys import KeyConfigError, create_key_file, new_key_entry, parse_keys, read_key_file
from claimflow.db import engine_for
from claimflow.settings import load_settings
from claimflow.whatif import read_history
from models.actions import ReceiveParcel
from tests.web_support import build_web

NAME, CONTACT, SERIAL = "Zhang Meilin", "zhang.meilin@example.org", "SN-PRIV-7781"
FAULT = "smokes at Flat 12, 88 Nanjing Road; call before 6pm"
PERSONAL = (NAME, CONTACT, SERIAL, FAULT, "Nanjing Road", "zhang.meilin")


def ring(*ids: str):
    return parse_keys([new_key_entry(i) for i in ids], "test")


def plain(value) -> Payload:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload


# --- the codec --------------------------------------------------------------------------


async def test_a_payload_round_trips_encrypted_with_a_fresh_nonce_and_the_key_id():
    codec = data_converter(ring("k1")).payload_codec
    original = plain({"name": NAME})
    first, second = await codec.encode([original, original])
    assert first.metadata["encoding"] == ENCODING and first.metadata[KEY_ID] == b"k1"
    assert NAME.encode() not in first.data and first.data[:12] != second.data[:12]  # a nonce per payload
    assert await codec.decode([first, second]) == [original, original]


async def test_rotation_old_payloads_decode_new_ones_use_the_new_key():
    old = ring("k1")
    sealed = (await data_converter(old).payload_codec.encode([plain("before")]))[0]
    rotated = parse_keys([new_key_entry("k2"), f"k1:{base64.b64encode(old.keys['k1']).decode()}"], "test")
    codec = data_converter(rotated).payload_codec
    assert await codec.decode([sealed]) == [plain("before")]
    [fresh] = await codec.encode([plain("after")])
    assert fresh.metadata[KEY_ID] == b"k2"


async def test_an_unknown_key_id_is_named_and_tampering_is_refused():
    [sealed] = await data_converter(ring("gone")).payload_codec.encode([plain("x")])
    with pytest.raises(UndecryptablePayload, match="key id 'gone'.*not configured"):
        await data_converter(ring("k1")).payload_codec.decode([sealed])
    codec = data_converter(ring("gone")).payload_codec  # another key under the same id
    with pytest.raises(UndecryptablePayload, match="does not authenticate"):
        await codec.decode([sealed])
    keys = ring("k1")
    [sealed] = await data_converter(keys).payload_codec.encode([plain("x")])
    flipped = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(UndecryptablePayload, match="altered"):
        await data_converter(keys).payload_codec.decode([flipped])


async def test_plain_payloads_pass_through_even_without_keys():
    original = plain({"recorded": "before encryption"})
    assert await data_converter(ring("k1")).payload_codec.decode([original]) == [original]
    assert await data_converter(None).payload_codec.decode([original]) == [original]


async def test_recorded_histories_replay_without_any_key(monkeypatch, tmp_path):
    monkeypatch.delenv("CLAIMFLOW_KEYS")
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    from claimflow.replay import replayer
    from tests.conftest import HISTORIES

    path = sorted(HISTORIES.glob("claim-*.json"))[0]
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer().replay_workflow(history)  # raises on failure
    assert not (tmp_path / "keys").exists()  # reading creates no key


def test_failure_messages_and_stack_traces_are_encoded():
    converter = data_converter(ring("k1"))
    failure = converter.failure_converter
    from temporalio.api.failure.v1 import Failure

    proto = Failure()
    failure.to_failure(ApplicationError(f"cannot reach {NAME}"), converter.payload_converter, proto)
    assert proto.message == "Encoded failure" and NAME not in proto.stack_trace
    assert proto.HasField("encoded_attributes")


def test_bad_keys_are_one_sentence_that_never_shows_the_key(monkeypatch, tmp_path):
    secret = base64.b64encode(b"0123456789").decode()
    monkeypatch.setenv("CLAIMFLOW_KEYS", f"k1:{secret}")
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    [problem] = load_settings().problems
    assert "CLAIMFLOW_KEYS entry 1 (key id 'k1')" in problem and "10 bytes" in problem and secret not in problem
    monkeypatch.setenv("CLAIMFLOW_KEYS", "no-colon")
    assert "id:base64key" in load_settings().problems[0]
    monkeypatch.setenv("CLAIMFLOW_KEYS", "k1:%%%")
    assert "not valid base64" in load_settings().problems[0]


def test_the_key_file_is_created_0600_and_refused_when_others_may_read_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CLAIMFLOW_KEYS")
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert configured_keyring(settings) is None
    made = keyring_for(settings)  # a local dev server: created on first use
    assert stat.S_IMODE(os.stat(settings.key_file).st_mode) == 0o600
    assert read_key_file(settings.key_file) == made and made.current in repr(made) and "keys=" not in repr(made)
    with pytest.raises(FileExistsError):
        create_key_file(settings.key_file)
    os.chmod(settings.key_file, 0o644)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        configured_keyring(settings)
    os.remove(settings.key_file)
    monkeypatch.setenv("TEMPORAL_API_KEY", "cloud")  # a cluster: every process must share keys
    with pytest.raises(KeyConfigError, match="no encryption key: set CLAIMFLOW_KEYS"):
        keyring_for(load_settings())
    assert not settings.key_file.exists()


# --- a real claim on the dev server ----------------------------------------------------


async def test_the_raw_history_carries_no_personal_data_and_readers_still_read_it(live_claims, changkong, tmp_path):
    h = await live_claims.open(
        changkong, customer={"name": NAME, "contact": CONTACT},
        product={"model": "CK-200 controller", "serial_number": SERIAL}, fault_description=FAULT,
    )  # fmt: skip
    await live_claims.do(h, ReceiveParcel(by="amy"))
    view = await live_claims.view(h)  # through the encrypting client: decoded
    assert view.customer.name == NAME and view.fault_description == FAULT

    service = live_claims.client.service_client
    raw_client = Client(service, namespace=live_claims.client.namespace, data_converter=pydantic_data_converter)
    raw = await raw_client.get_workflow_handle(h.id).fetch_history()
    stored = raw.to_json() + "".join(event.SerializeToString().decode("latin-1") for event in raw.events)
    for personal in PERSONAL:
        assert personal not in stored
    started = raw.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING

    described = await h.describe()  # the summary and details go through the codec too: decoded here
    shown = " ".join(
        [str(await described.static_summary()), str(await described.static_details()),
         *(str(value) for _, value in described.typed_search_attributes)]
    )  # fmt: skip
    for personal in (NAME, CONTACT, FAULT):
        assert personal not in shown

    engine = engine_for(f"sqlite:///{tmp_path / 'claims.db'}")
    for _ in range(100):  # the worker projects the claim asynchronously
        with engine.connect() as db:
            rows = [tuple(map(str, row)) for row in db.execute(text("SELECT * FROM claims WHERE claim_number = :n"),
                                                                 {"n": h.id})]  # fmt: skip
        if rows:
            break
        await asyncio.sleep(0.05)
    assert rows
    for personal in (NAME, CONTACT, FAULT):  # the serial number is a list column by design (agents search it)
        assert all(personal not in cell for cell in rows[0])
    engine.dispose()

    assert decoded_history(raw, live_claims.client.data_converter).events[0] != raw.events[0]
    assert read_history(raw).claim.intake.customer.name == NAME  # what-if reads the encrypted history
    audit = await audit_claim(live_claims.client, None, h.id)
    assert audit.ok and audit.verdict.text == "replays cleanly"


# --- the codec endpoint -----------------------------------------------------------------

UI = "http://localhost:8233"


@pytest.fixture
async def web(claims, tmp_path):
    site = build_web(tmp_path / "web", claims.client, claims.task_queue)
    yield site
    await site.close()


async def test_the_codec_endpoint_decodes_for_signed_in_staff_only(web, claims):
    [sealed] = await claims.client.data_converter.payload_codec.encode([plain({"name": NAME})])
    body = {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                          "data": base64.b64encode(sealed.data).decode()}]}  # fmt: skip
    auditor = await web.as_user("aud")
    decoded = await auditor.post("/codec/decode", json=body, headers={"Origin": UI, "X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    [payload] = decoded.json()["payloads"]
    assert NAME in base64.b64decode(payload["data"]).decode()
    assert decoded.headers["access-control-allow-origin"] == UI
    assert decoded.headers["access-control-allow-credentials"] == "true"

    encoded = await auditor.post("/codec/encode", json=decoded.json())
    assert base64.b64decode(encoded.json()["payloads"][0]["metadata"]["encoding"]) == ENCODING

    anonymous = web.anonymous()
    assert (await anonymous.post("/codec/decode", json=body, headers={"Origin": UI})).status_code == 401
    foreign = await auditor.post("/codec/decode", json=body, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    assert (await auditor.post("/codec/decode", content=b"{not json")).status_code == 400

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await anonymous.options("/codec/decode", headers={"Origin": UI, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI
    refused = await anonymous.options("/codec/decode", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    elsewhere = await anonymous.get("/claims", headers={"Origin": UI})
    assert "access-control-allow-origin" not in elsewhere.headers  # CORS on /codec/ only
    await anonymous.aclose()
