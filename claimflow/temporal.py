"""Connecting to Temporal with the data converter every claimflow process must share (it
encrypts every payload: claimflow/codec.py),
registering claimflow's search attributes on a namespace, and setting its retention."""

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from google.protobuf.duration_pb2 import Duration

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from claimflow.codec import KeyConfigError, converter_for
from claimflow.errors import TemporalUnreachable
from claimflow.settings import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTES


class ConfigError(TemporalUnreachable):
    """The Temporal configuration cannot work (bad address, missing certificate file, ...).

    A TemporalUnreachable, so every `claims` command prints it as one line."""


class SearchAttributesRefused(TemporalUnreachable):
    """The namespace would not take claimflow's search attributes; the message says what to do."""


def check_address(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"TEMPORAL_ADDRESS {address!r} is not a valid address: it must be host:port without a scheme, "
            "e.g. localhost:7233 or my-namespace.a1b2c.tmprl.cloud:7233"
        )


def _read_pem(variable: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{variable} {path}: no such file") from None
    except OSError as err:
        raise ConfigError(f"{variable} {path} cannot be read: {err.strerror or err}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{variable} {path} is not a PEM file (it has no '-----BEGIN' line)")
    return data


def tls_config(settings: Settings) -> TLSConfig | bool:
    """What `Client.connect(tls=...)` gets: False (plaintext), True (system roots) or a
    TLSConfig with the certificate files' contents. Raises ConfigError on a setting that cannot work."""
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if (cert is None) != (key is None):
        have, missing = ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")
        if cert is None:
            have, missing = missing, have
        raise ConfigError(
            f"{have} is set but {missing} is not: an mTLS client certificate needs both the certificate and its key"
        )
    files = [name for name, value in (("TEMPORAL_TLS_CERT", cert), ("TEMPORAL_TLS_CA", ca)) if value]
    if settings.temporal_tls is False and files:
        raise ConfigError(f"TEMPORAL_TLS=false contradicts {' and '.join(files)}: unset one of them")
    if not settings.uses_tls:
        return False
    if cert is None and ca is None:
        return True
    return TLSConfig(
        client_cert=_read_pem("TEMPORAL_TLS_CERT", cert) if cert else None,
        client_private_key=_read_pem("TEMPORAL_TLS_KEY", key) if key else None,
        server_root_ca_cert=_read_pem("TEMPORAL_TLS_CA", ca) if ca else None,
    )


async def connect(settings: Settings) -> Client:
    if settings.problems:
        raise ConfigError(settings.problems[0])
    address = settings.temporal_address
    check_address(address)
    tls = tls_config(settings)
    try:
        converter = converter_for(settings)  # personal data encrypted (claimflow/codec.py)
    except KeyConfigError as err:
        raise ConfigError(str(err)) from None
    try:
        return await Client.connect(
            address,
            namespace=settings.temporal_namespace,
            data_converter=converter,
            tls=tls,
            api_key=settings.temporal_api_key,
        )
    except ValueError as err:
        raise TemporalUnreachable(f"TEMPORAL_ADDRESS {address!r} is not a valid address: {err}") from None
    except RuntimeError as err:
        text = str(err)
        reason = re.findall(r'message: "([^"]+)"', text)
        if "PrivateKeyParseError" in text:
            raise ConfigError(f"TEMPORAL_TLS_KEY {settings.temporal_tls_key} holds no usable private key") from None
        hint = (
            "check TEMPORAL_ADDRESS and the TLS / API key settings"
            if settings.is_cluster
            else "is `claims up` running, or TEMPORAL_ADDRESS set?"
        )
        why = reason[-1] if reason else text
        raise TemporalUnreachable(f"cannot reach Temporal at {address}: {why}; {hint}") from None


# --- search attributes -----------------------------------------------------------------


def search_attribute_flags() -> list[str]:
    """`temporal server start-dev` flags registering claimflow's search attributes."""
    flags = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={_type_name(key.indexed_value_type)}"]
    return flags


def _type_name(value_type: int) -> str:
    """INDEXED_VALUE_TYPE_KEYWORD -> Keyword, INDEXED_VALUE_TYPE_KEYWORD_LIST -> KeywordList."""
    words = IndexedValueType.Name(value_type).removeprefix("INDEXED_VALUE_TYPE_").split("_")
    return "".join(word.capitalize() for word in words)


@dataclass(frozen=True)
class SearchAttributeStatus:
    name: str
    type: str
    added: bool  # False: it was registered already


def _cloud_hint(namespace: str) -> str:
    flags = " ".join(f'--search-attribute "{k.name}={_type_name(k.indexed_value_type)}"' for k in SEARCH_ATTRIBUTES)
    return (
        "on Temporal Cloud search attributes are managed by the account, not through the namespace's API: "
        f"add them in the Cloud UI (Namespace > Search Attributes) or with `tcld namespace search-attributes add "
        f"--namespace {namespace} {flags}`"
    )


async def register_search_attributes(client: Client, namespace: str) -> list[SearchAttributeStatus]:
    """Register claimflow's search attributes on `namespace` through the operator service.

    Idempotent: attributes already registered with the right type are left alone. Raises
    SearchAttributesRefused when one is registered with another type or the server does not
    permit it (with a hint for Temporal Cloud); other RPC errors propagate."""
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        known = dict(listed.system_attributes) | dict(listed.custom_attributes)
        wanted = {key.name: int(key.indexed_value_type) for key in SEARCH_ATTRIBUTES}
        for name, value_type in wanted.items():
            if name in known and known[name] != value_type:
                raise SearchAttributesRefused(
                    f"search attribute {name} is already registered in namespace {namespace} as "
                    f"{_type_name(known[name])}, but claimflow needs {_type_name(value_type)}; "
                    "remove it (`temporal operator search-attribute remove`) or use another namespace"
                )
        missing = {name: value_type for name, value_type in wanted.items() if name not in known}
        if missing:
            try:
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
                )
            except RPCError as err:
                if err.status != RPCStatusCode.ALREADY_EXISTS:  # another `claims setup` was quicker
                    raise
    except RPCError as err:
        if err.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
            raise SearchAttributesRefused(
                f"Temporal at {client.service_client.config.target_host} does not permit registering search "
                f"attributes ({err.message}); {_cloud_hint(namespace)}"
            ) from None
        raise
    return [SearchAttributeStatus(name, _type_name(t), name in missing) for name, t in wanted.items()]


# --- retention -------------------------------------------------------------------------


class RetentionRefused(TemporalUnreachable):
    """The namespace would not take the configured retention; the message says what to do."""


async def namespace_retention(client: Client, namespace: str) -> timedelta:
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def set_retention(client: Client, namespace: str, days: int) -> bool:
    """Make `namespace` keep closed workflows for `days` days (the operator's UpdateNamespace).
    False when it already did. Raises RetentionRefused when the server will not."""
    wanted = timedelta(days=days)
    try:
        if await namespace_retention(client, namespace) == wanted:
            return False
        ttl = Duration()
        ttl.FromTimedelta(wanted)
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(namespace=namespace, config=NamespaceConfig(workflow_execution_retention_ttl=ttl))
        )
    except RPCError as err:
        if err.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
            raise RetentionRefused(
                f"Temporal would not set the retention of namespace {namespace} to {days} days ({err.message}); "
                "set CLAIMFLOW_RETENTION_DAYS to what the server allows (Temporal Cloud: at most 90 days, set in "
                "the Cloud UI or with `tcld namespace retention set`) — closed claims are archived either way"
            ) from None
        raise
    return True
