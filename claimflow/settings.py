"""Configuration from the environment, in one place."""

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_QUEUE = "claims"


@dataclass(frozen=True)
class Settings:
    temporal_address: str
    temporal_namespace: str
    data_dir: Path
    policy_dir: Path

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox.jsonl"

    @property
    def temporal_db(self) -> Path:
        return self.data_dir / "temporal.db"


def load_settings() -> Settings:
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return Settings(
        temporal_address=os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"),
        temporal_namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        data_dir=Path(os.environ.get("CLAIMFLOW_DATA_DIR", data_home / "claimflow")).expanduser(),
        policy_dir=Path(os.environ.get("CLAIMFLOW_POLICY_DIR", REPO_ROOT / "policies")).expanduser(),
    )
