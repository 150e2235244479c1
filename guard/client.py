"""Client side of the local setup: a TLS channel to the server with a role's credential from the data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from guard.datadir import DataDir


@dataclass(frozen=True)
class Connection:
    channel: grpc.Channel
    metadata: tuple[tuple[str, str], ...]

    def close(self) -> None:
        self.channel.close()


def connect(
    data_dir: Path,
    role: str,
    server: str | None = None,
    ca_file: Path | None = None,
    token_file: Path | None = None,
    max_message_bytes: int = 64 * 1024 * 1024,
) -> Connection:
    """Defaults come from the data directory a local `guard serve` created."""
    directory = DataDir(data_dir)
    address = server or _read(directory.address_file, "server address (is `guard serve` running? or pass --server)")
    root = (ca_file or directory.ca_cert).read_bytes()
    token = (token_file.read_text().strip() if token_file else _read(directory.token_file(role), f"{role} credential"))
    channel = grpc.secure_channel(
        address,
        grpc.ssl_channel_credentials(root_certificates=root),
        options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ],
    )
    return Connection(channel, (("authorization", f"Bearer {token}"),))


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise SystemExit(f"guard: no {what} at {path}") from None
