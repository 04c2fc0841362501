"""The codec endpoint: Temporal's Web UI shows a claim's payloads decrypted to signed-in staff.

POST /codec/decode and /codec/encode speak Temporal's remote codec protocol: a JSON body
`{"payloads": [{"metadata": {"encoding": "<base64>", ...}, "data": "<base64>"}]}` in, the
same shape out (claimflow/codec.py does the work). `claims up` starts the dev server with
`--ui-codec-endpoint` pointing here; on a cluster, set the UI's codec endpoint to
`{CLAIMFLOW_PUBLIC_URL}/codec` and tick "include cross-origin credentials".

Who: every signed-in role (all of them may read claims); anonymous gets 401. No CSRF token
(the Temporal Web UI posts cross-origin and has none): instead the session cookie plus an
Origin check: a request from a browser page must come from the Temporal Web UI
(TEMPORAL_UI_URL) or this app. CORS (with credentials) answers for that one origin and only
on /codec/ (CodecCors, added in web/app.py).
"""

import base64
import binascii
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from claimflow.codec import KeyConfigError, UndecryptablePayload, converter_for
from models.read_model import UserRow
from web.deps import SignInRequired, signed_in

router = APIRouter()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class CodecCors:
    """CORS for /codec/ only, for the Temporal Web UI's origin, with credentials; every other
    path of the app stays same-origin."""

    def __init__(self, app: ASGIApp, ui_url: str) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=[origin_of(ui_url)],
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=["content-type", "x-namespace", "authorization"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/codec/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def staff(request: Request) -> UserRow:
    """The signed-in user (any role: all may read claims), else 401; and a browser page
    calling must be the Temporal Web UI or this app (403 otherwise)."""
    settings = request.app.state.settings
    origin = request.headers.get("origin")
    if origin is not None and origin not in {origin_of(settings.temporal_ui_url), origin_of(settings.public_url)}:
        raise HTTPException(403, f"the codec endpoint does not answer pages from {origin}")
    try:
        return signed_in(request)
    except SignInRequired:
        raise HTTPException(401, "sign in to claimflow's web UI to see decoded payloads") from None


class JsonPayload(BaseModel):
    metadata: dict[str, str] = {}
    data: str = ""


class Payloads(BaseModel):
    payloads: list[JsonPayload]


def _codec(request: Request) -> PayloadCodec:
    """The codec of the app's Temporal client, else one from the settings' keys."""
    state = request.app.state
    if state.client is not None and state.client.data_converter.payload_codec is not None:
        return state.client.data_converter.payload_codec
    if getattr(state, "codec", None) is None:
        try:
            state.codec = converter_for(state.settings).payload_codec
        except KeyConfigError as err:
            raise HTTPException(503, str(err)) from None
    return state.codec


async def _read(request: Request) -> list[Payload]:
    try:
        body = Payloads.model_validate_json(await request.body())
        return [
            Payload(
                metadata={key: base64.b64decode(value, validate=True) for key, value in p.metadata.items()},
                data=base64.b64decode(p.data, validate=True),
            )
            for p in body.payloads
        ]
    except (ValidationError, binascii.Error, ValueError):
        raise HTTPException(400, 'expected {"payloads": [{"metadata": {...}, "data": "..."}]} with base64 values') from None


def _json(payloads: list[Payload]) -> dict:
    return {
        "payloads": [
            {
                "metadata": {key: base64.b64encode(value).decode() for key, value in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


@router.post("/codec/decode")
async def decode(request: Request, _user: UserRow = Depends(staff)) -> dict:
    payloads = await _read(request)
    try:
        return _json(await _codec(request).decode(payloads))
    except UndecryptablePayload as err:
        raise HTTPException(422, str(err)) from None


@router.post("/codec/encode")
async def encode(request: Request, _user: UserRow = Depends(staff)) -> dict:
    return _json(await _codec(request).encode(await _read(request)))
