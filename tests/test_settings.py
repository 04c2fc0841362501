"""Settings from the environment, the TLS / API-key connection they make, and bad
configuration as one clear line (no traceback) from every command that connects."""

import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.service import TLSConfig
from typer.testing import CliRunner

import claimflow.temporal
from claimflow.settings import REPO_ROOT, Settings, load_settings
from claimflow.temporal import connect, tls_config
from starter import app

VARIABLES = [
    "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TLS", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY",
    "TEMPORAL_TLS_CA", "TEMPORAL_API_KEY", "DATABASE_URL", "CLAIMFLOW_DATA_DIR", "CLAIMFLOW_POLICY_DIR",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No claimflow or Temporal setting from the machine running the tests."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def pem_files(tmp_path) -> dict[str, Path]:
    """A client certificate, its key and a CA: PEM-looking files with distinct bytes."""
    files = {}
    for name, label in (("cert", "CERTIFICATE"), ("key", "PRIVATE KEY"), ("ca", "CERTIFICATE")):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(f"-----BEGIN {label}-----\n{name}-bytes\n-----END {label}-----\n".encode())
        files[name] = path
    return files


# --- parsing ---------------------------------------------------------------------------


def test_defaults(tmp_path):
    settings = load_settings()
    data_dir = tmp_path / "xdg" / "claimflow"
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.data_dir == data_dir
    assert settings.policy_dir == REPO_ROOT / "policies"
    assert settings.database_url == f"sqlite:///{data_dir}/claims.db"
    assert settings.outbox == data_dir / "outbox.jsonl" and settings.temporal_db == data_dir / "temporal.db"
    assert (settings.temporal_tls, settings.temporal_tls_cert, settings.temporal_tls_key) == (None, None, None)
    assert (settings.temporal_tls_ca, settings.temporal_api_key, settings.problems) == (None, None, ())
    assert not settings.uses_tls and not settings.is_cluster


@pytest.mark.parametrize(
    "variable, value, field, expected",
    [
        ("TEMPORAL_ADDRESS", "temporal.example.com:7233", "temporal_address", "temporal.example.com:7233"),
        ("TEMPORAL_NAMESPACE", "claims-prod", "temporal_namespace", "claims-prod"),
        ("TEMPORAL_TLS", "true", "temporal_tls", True),
        ("TEMPORAL_TLS_CERT", "/etc/claimflow/client.pem", "temporal_tls_cert", Path("/etc/claimflow/client.pem")),
        ("TEMPORAL_TLS_KEY", "/etc/claimflow/client.key", "temporal_tls_key", Path("/etc/claimflow/client.key")),
        ("TEMPORAL_TLS_CA", "/etc/claimflow/ca.pem", "temporal_tls_ca", Path("/etc/claimflow/ca.pem")),
        ("TEMPORAL_API_KEY", "secret-key", "temporal_api_key", "secret-key"),
        (
            "DATABASE_URL",
            "postgresql+psycopg://claims:pw@db.example.com/claims",
            "database_url",
            "postgresql+psycopg://claims:pw@db.example.com/claims",
        ),
        ("CLAIMFLOW_DATA_DIR", "/srv/claimflow", "data_dir", Path("/srv/claimflow")),
        ("CLAIMFLOW_POLICY_DIR", "/srv/policies", "policy_dir", Path("/srv/policies")),
    ],
)
def test_each_variable(monkeypatch, variable, value, field, expected):
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), field) == expected


def test_database_url_follows_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path / "data"))
    assert load_settings().database_url == f"sqlite:///{tmp_path}/data/claims.db"
    assert Settings("localhost:7233", "default", tmp_path, tmp_path).database_url == f"sqlite:///{tmp_path}/claims.db"


def test_home_and_empty_values(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_TLS_CERT", "~/client.pem")
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_API_KEY", "TEMPORAL_TLS", "DATABASE_URL"):
        monkeypatch.setenv(name, "")  # e.g. `FOO=` in a compose file: the same as unset
    settings = load_settings()
    assert settings.temporal_tls_cert == tmp_path / "client.pem"
    assert settings.temporal_address == "localhost:7233" and settings.temporal_api_key is None
    assert settings.temporal_tls is None and settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("off", False)])
def test_tls_switch(monkeypatch, value, expected):
    monkeypatch.setenv("TEMPORAL_TLS", value)
    settings = load_settings()
    assert settings.temporal_tls is expected and settings.uses_tls is expected and not settings.problems


def test_secrets_stay_out_of_output(monkeypatch):
    monkeypatch.setenv("TEMPORAL_API_KEY", "very-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://claims:hunter2@db/claims")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert settings.database_url_for_display == "postgresql+psycopg://claims:***@db/claims"


# --- the connection they make ----------------------------------------------------------


def test_plaintext_by_default():
    assert tls_config(load_settings()) is False


@pytest.mark.parametrize("variable, value", [("TEMPORAL_TLS", "true"), ("TEMPORAL_API_KEY", "k")])
def test_tls_with_system_roots(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    assert tls_config(load_settings()) is True


def test_api_key_over_plaintext_when_told(monkeypatch):
    monkeypatch.setenv("TEMPORAL_API_KEY", "k")
    monkeypatch.setenv("TEMPORAL_TLS", "false")
    settings = load_settings()
    assert tls_config(settings) is False and settings.is_cluster


def test_mtls_files_are_read_into_the_tls_config(monkeypatch, pem_files):
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(pem_files["cert"]))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(pem_files["key"]))
    monkeypatch.setenv("TEMPORAL_TLS_CA", str(pem_files["ca"]))
    config = tls_config(load_settings())
    assert isinstance(config, TLSConfig)
    assert config.client_cert == pem_files["cert"].read_bytes()
    assert config.client_private_key == pem_files["key"].read_bytes()
    assert config.server_root_ca_cert == pem_files["ca"].read_bytes()


def test_server_ca_alone(monkeypatch, pem_files):
    monkeypatch.setenv("TEMPORAL_TLS_CA", str(pem_files["ca"]))
    config = tls_config(load_settings())
    assert isinstance(config, TLSConfig) and config.server_root_ca_cert == pem_files["ca"].read_bytes()
    assert config.client_cert is None and config.client_private_key is None


@pytest.fixture
def dialled(monkeypatch) -> list[dict]:
    """Replaces Client.connect: records what connect() would dial with."""
    calls: list[dict] = []

    async def fake_connect(target_host, **kwargs):
        calls.append({"target_host": target_host, **kwargs})
        return "client"

    monkeypatch.setattr(claimflow.temporal.Client, "connect", fake_connect)
    return calls


async def test_connect_passes_api_key_and_tls(monkeypatch, dialled):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "claims.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "claims.a1b2c")
    monkeypatch.setenv("TEMPORAL_API_KEY", "the-key")
    assert await connect(load_settings()) == "client"
    (call,) = dialled
    assert call["target_host"] == "claims.a1b2c.tmprl.cloud:7233" and call["namespace"] == "claims.a1b2c"
    assert call["api_key"] == "the-key" and call["tls"] is True


async def test_connect_passes_mtls(monkeypatch, dialled, pem_files):
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(pem_files["cert"]))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(pem_files["key"]))
    await connect(load_settings())
    (call,) = dialled
    assert call["api_key"] is None
    assert call["tls"].client_cert == pem_files["cert"].read_bytes()
    assert call["tls"].client_private_key == pem_files["key"].read_bytes()


async def test_connect_plaintext(dialled):
    await connect(load_settings())
    assert dialled[0]["tls"] is False and dialled[0]["api_key"] is None


# --- bad configuration: one clear line -------------------------------------------------


def bad_settings(tmp_path: Path, pem_files: dict[str, Path]) -> list[tuple[dict[str, str], str]]:
    not_pem = tmp_path / "not.pem"
    not_pem.write_bytes(b"\x30\x82 DER, not PEM")
    return [
        ({"TEMPORAL_TLS_CERT": str(tmp_path / "missing.pem"), "TEMPORAL_TLS_KEY": str(pem_files["key"])},
         f"TEMPORAL_TLS_CERT {tmp_path / 'missing.pem'}: no such file"),
        ({"TEMPORAL_TLS_CERT": str(pem_files["cert"])},
         "TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not"),
        ({"TEMPORAL_TLS_KEY": str(pem_files["key"])},
         "TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not"),
        ({"TEMPORAL_TLS_CA": str(tmp_path)}, f"TEMPORAL_TLS_CA {tmp_path} cannot be read: Is a directory"),
        ({"TEMPORAL_TLS_CA": str(not_pem)}, f"TEMPORAL_TLS_CA {not_pem} is not a PEM file"),
        ({"TEMPORAL_TLS": "maybe"}, "TEMPORAL_TLS must be true or false, not 'maybe'"),
        ({"TEMPORAL_TLS": "false", "TEMPORAL_TLS_CA": str(pem_files["ca"])},
         "TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CA"),
        ({"TEMPORAL_ADDRESS": "https://temporal.example.com:7233"},
         "TEMPORAL_ADDRESS 'https://temporal.example.com:7233' is not a valid address"),
        ({"TEMPORAL_ADDRESS": "temporal.example.com"}, "is not a valid address: it must be host:port"),
        ({"TEMPORAL_ADDRESS": "temporal.example.com:99999"}, "is not a valid address"),
    ]  # fmt: skip


def assert_one_line(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0], result.output


def test_bad_configuration_is_one_clear_line(monkeypatch, tmp_path, pem_files):
    runner = CliRunner()
    for env, message in bad_settings(tmp_path, pem_files):
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            assert_one_line(runner.invoke(app, ["show", "X-1"]), message)


def test_setup_and_worker_report_bad_configuration_too(monkeypatch, pem_files):
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(pem_files["cert"]))
    runner = CliRunner()
    for command in ("setup", "worker"):
        assert_one_line(runner.invoke(app, [command]), "TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not")


def test_unreachable_cluster_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("TEMPORAL_API_KEY", "k")
    monkeypatch.setenv("TEMPORAL_TLS", "false")  # plaintext, so the refusal is the TCP connect's
    result = CliRunner().invoke(app, ["show", "X-1"])
    assert_one_line(result, "cannot reach Temporal at 127.0.0.1:1")
    assert "check TEMPORAL_ADDRESS and the TLS / API key settings" in result.output


@pytest.mark.parametrize("variable, value", [("TEMPORAL_API_KEY", "k"), ("TEMPORAL_TLS", "true")])
def test_up_refuses_cluster_settings(monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    assert_one_line(CliRunner().invoke(app, ["up"]), "`claims up` runs a local Temporal dev server")
    assert not (tmp_path / "temporal-dev-server.log").exists()  # nothing was started


def test_python_worker_py_reports_bad_configuration(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TEMPORAL_TLS_KEY": str(tmp_path / "k.pem")}
    result = subprocess.run(
        [sys.executable, "worker.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: "
        "an mTLS client certificate needs both the certificate and its key"
    )
