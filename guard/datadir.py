"""The data directory: everything a local guard needs, created on first start, owner-only.

    guard.db                 embedded SQLite (unless a database URL is configured)
    tls/ca.pem, ca.key       a local certificate authority (clients trust ca.pem)
    tls/server.pem, .key     the server certificate for localhost
    credentials/ROLE.token   one bearer credential per role, read by the client commands
    credentials/registry.json  SHA-256 of each credential -> role, read by the server
    keys/prompt.key          AES-256-GCM key for prompts at rest
    keys/signing/            Ed25519 signing keys (one PEM each) and the public keyring.json
    keys/policy/             the local policy admin key and the trusted policy keys
    index/                   persisted FAISS index (derived data)
    server.address           where the running server listens
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from guard.auth import ROLES, Credential, token_digest
from guard.policy import PolicyKeys
from guard.provenance.keyring import KeyStore


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.root / "tls" / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "tls" / "server.key"

    @property
    def registry(self) -> Path:
        return self.root / "credentials" / "registry.json"

    @property
    def prompt_key(self) -> Path:
        return self.root / "keys" / "prompt.key"

    @property
    def signing_keys(self) -> KeyStore:
        return KeyStore(self.root / "keys" / "signing")

    @property
    def policy_keys(self) -> PolicyKeys:
        return PolicyKeys(self.root / "keys" / "policy")

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def address_file(self) -> Path:
        return self.root / "server.address"

    def token_file(self, role: str) -> Path:
        return self.root / "credentials" / f"{role}.token"

    def ensure(self, now: dt.datetime) -> None:
        """Create whatever is missing; never overwrite what exists."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        if not self.server_cert.exists():
            _write_tls(self.root / "tls", now)
        if not self.registry.exists():
            _write_credentials(self)
        if not self.prompt_key.exists():
            _write_private(self.prompt_key, secrets.token_bytes(32))
        if not self.policy_keys.exists():
            self.policy_keys.create()
        if not self.signing_keys.exists():
            self.signing_keys.create(origin=f"guard.local/{secrets.token_hex(8)}", now=now)

    def credentials(self) -> list[Credential]:
        entries = json.loads(self.registry.read_text())
        return [Credential(digest=e["sha256"], role=e["role"], name=e["name"]) for e in entries]

    def read_token(self, role: str) -> str:
        return self.token_file(role).read_text().strip()


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _write_credentials(data_dir: DataDir) -> None:
    registry = []
    for role in ROLES:
        token = secrets.token_urlsafe(32)
        _write_private(data_dir.token_file(role), (token + "\n").encode())
        registry.append({"name": f"local-{role}", "role": role, "sha256": token_digest(token)})
    _write_private(data_dir.registry, json.dumps(registry, indent=2).encode())


def _write_tls(folder: Path, now: dt.datetime) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "guard local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names = {"localhost", socket.gethostname()}
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in sorted(names)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_format = dict(
        encoding=pem,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    _write_private(folder / "ca.key", ca_key.private_bytes(**key_format))
    _write_private(folder / "server.key", server_key.private_bytes(**key_format))
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.pem").write_bytes(server_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
