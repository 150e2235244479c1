"""The policy gate as the service runs it: one active bundle, swapped atomically, never downgraded."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlmodel import Session, col, select

import policies
from guard.errors import FailedPrecondition, InvalidArgument
from guard.storage.models import PolicyBundleRow, PolicyDecisionRow

log = structlog.get_logger("guard.policy")

DEFAULT_BUNDLE = Path(policies.__file__).parent / "default"
DEFAULT_VALIDITY = dt.timedelta(days=5 * 365)


class PolicyKeys:
    """Admin keys that sign bundles: trusted.json (key id -> public key) and the local admin's private key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def trusted_file(self) -> Path:
        return self.folder / "trusted.json"

    def exists(self) -> bool:
        return self.trusted_file.exists()

    def create(self) -> str:
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw()
        key_id = "policy-" + hashlib.sha256(public).hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(self.folder / "admin.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        (self.folder / "admin.id").write_text(key_id + "\n")
        self.trusted_file.write_text(json.dumps({key_id: base64.b64encode(public).decode()}, indent=2))
        return key_id

    def trusted(self) -> dict[str, bytes]:
        return {k: base64.b64decode(v) for k, v in json.loads(self.trusted_file.read_text()).items()}

    def admin(self) -> tuple[str, Ed25519PrivateKey]:
        key = serialization.load_pem_private_key((self.folder / "admin.pem").read_bytes(), None)
        assert isinstance(key, Ed25519PrivateKey)
        return (self.folder / "admin.id").read_text().strip(), key


class PolicyGate:
    def __init__(self, engine: Engine, keys: PolicyKeys, clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock
        self._lock = threading.Lock()
        self._active = self._load_active() or self._install_default()

    @property
    def active(self) -> policies.Policy:
        return self._active

    def activate(self, files: Mapping[str, bytes]) -> policies.Bundle:
        """Verify, check revision and validity, store, then swap; on refusal the last good bundle stays."""
        try:
            bundle = policies.parse(files, self._keys.trusted())
        except policies.BundleError as exc:
            log.warning("policy_refused", reason=str(exc))
            raise InvalidArgument(f"bundle refused: {exc}") from exc
        now = self._clock()
        with self._lock:
            current = self._active.bundle
            problem = _refusal(bundle, current, now)
            if problem:
                log.warning("policy_refused", bundle_id=bundle.bundle_id, revision=bundle.revision, reason=problem)
                raise FailedPrecondition(f"bundle refused: {problem}; {current.bundle_id} revision "
                                         f"{current.revision} stays active")
            with Session(self._engine) as session:
                if session.get(PolicyBundleRow, bundle.digest) is None:
                    session.add(PolicyBundleRow(
                        digest=bundle.digest, bundle_id=bundle.bundle_id, revision=bundle.revision,
                        key_id=bundle.key_id, activated_at=now,
                        files={n: base64.b64encode(b).decode() for n, b in bundle.files.items()},
                    ))
                    session.commit()
            self._active = policies.Policy(bundle)
        log.info("policy_activated", bundle_id=bundle.bundle_id, revision=bundle.revision, digest=bundle.digest)
        return bundle

    def bundle(self, digest: str) -> policies.Bundle:
        with Session(self._engine) as session:
            row = session.get(PolicyBundleRow, digest)
        if row is None:
            raise InvalidArgument(f"no stored bundle with digest {digest}")
        return _parse_row(row, self._keys.trusted())

    def _load_active(self) -> policies.Policy | None:
        with Session(self._engine) as session:
            row = session.exec(select(PolicyBundleRow).order_by(col(PolicyBundleRow.activated_at).desc())).first()
        if row is None:
            return None
        return policies.Policy(_parse_row(row, self._keys.trusted()))

    def _install_default(self) -> policies.Policy:
        """Sign the packaged default bundle with the local admin key and make it the first active one."""
        key_id, key = self._keys.admin()
        now = self._clock()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for source in DEFAULT_BUNDLE.glob("*.yaml"):
                shutil.copy(source, folder / source.name)
            policies.sign(folder, key, key_id, bundle_id="guard-default", revision=1,
                          valid_from=now - dt.timedelta(days=1), valid_until=now + DEFAULT_VALIDITY)
            files = {p.name: p.read_bytes() for p in folder.iterdir()}
        bundle = policies.parse(files, self._keys.trusted())
        with Session(self._engine) as session:
            session.add(PolicyBundleRow(
                digest=bundle.digest, bundle_id=bundle.bundle_id, revision=bundle.revision, key_id=key_id,
                activated_at=now, files={n: base64.b64encode(b).decode() for n, b in files.items()},
            ))
            session.commit()
        log.info("policy_default_installed", digest=bundle.digest)
        return policies.Policy(bundle)


def stored_decisions(engine: Engine, since: dt.datetime | None = None) -> Iterator[policies.StoredDecision]:
    """Every stored decision (from `since`), streamed in batches, for replay."""
    query = select(PolicyDecisionRow.decision_id, PolicyDecisionRow.facts, PolicyDecisionRow.input_sha256,
                   PolicyDecisionRow.effect, PolicyDecisionRow.determining_rules)
    if since is not None:
        query = query.where(col(PolicyDecisionRow.evaluated_at) >= since)
    with Session(engine) as session:
        for decision_id, facts, digest, effect, rules in session.exec(query.execution_options(yield_per=2000)):
            yield policies.StoredDecision(decision_id, policies.ScreeningFacts.from_dict(facts), digest, effect,
                                          tuple(rules))


def _refusal(bundle: policies.Bundle, current: policies.Bundle, now: dt.datetime) -> str:
    if not bundle.valid_at(now):
        return (f"not valid now (valid from {bundle.manifest.valid_from.isoformat()} "
                f"until {bundle.manifest.valid_until.isoformat()})")
    if bundle.bundle_id == current.bundle_id and bundle.revision <= current.revision:
        return f"revision {bundle.revision} is not newer than the active revision {current.revision}"
    return ""


def _parse_row(row: PolicyBundleRow, trusted: Mapping[str, bytes]) -> policies.Bundle:
    return policies.parse({n: base64.b64decode(b) for n, b in row.files.items()}, trusted)
