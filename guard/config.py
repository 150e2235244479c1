"""Configuration: one frozen value built at the edge (command line, environment) and passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

MIB = 1024 * 1024


def default_data_dir() -> Path:
    return Path(os.environ.get("GUARD_DATA_DIR") or platformdirs.user_data_dir("guard"))


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server."""

    max_request_bytes: int = 32 * MIB
    """Unary Screen and each RegisterWork/ScreenStream message."""
    max_upload_bytes: int = 512 * MIB
    """A whole streamed upload."""
    max_audio_seconds: float = 15 * 60
    max_metadata_chars: int = 4096
    max_prompt_chars: int = 32_768


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    listen: str = "127.0.0.1:50051"
    database_url: str | None = None
    metrics_listen: str | None = "127.0.0.1:9464"
    workers: int = 8
    analysis_processes: int | None = None
    """Worker processes analysing screened audio as it is decoded (melody, landmark spectrogram) and
    extracting registered recordings' melodies; default: one a core, at most 4."""
    shutdown_grace_seconds: float = 30.0
    jurisdiction: str = "US"
    """Country (ISO 3166-1) whose public holidays count against statutory business days."""
    subdivision: str | None = None
    appeal_business_days: int = 10
    """Policy: how long a claimant has to pursue an appeal against a restore."""
    due_interval_seconds: float = 60.0
    """How often the disputes' automated steps (restores, lapses) are taken."""
    prompt_key_file: Path | None = None
    """32-byte AES key for prompts at rest; default: DATA_DIR/keys/prompt.key (created on first start)."""
    limits: Limits = field(default_factory=Limits)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'guard.db'}"
