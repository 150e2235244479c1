"""Policy bundles: a directory with a signed manifest, rule files and golden test cases.

    manifest.yaml   bundle_id, revision, valid_from, valid_until, files: {name: sha256}
    manifest.sig    {"key_id": ..., "signature": base64 Ed25519 over manifest.yaml's bytes}
    *.yaml          rule files (`rules: [...]`) and test files (`cases: [...]`), each listed in the manifest

Everything is checked at load time: the signature by a trusted admin key,
every file's digest, and every rule against the schema, with errors that
name the file and line.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies.rules import Effect, MatchFacts, Rule, ScreeningFacts

MANIFEST = "manifest.yaml"
SIGNATURE = "manifest.sig"


class BundleError(Exception):
    """A bundle that must not be used; the message says where and why."""


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bundle_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    revision: int = Field(ge=1)
    valid_from: dt.datetime
    valid_until: dt.datetime
    files: dict[str, str]


class _MatchCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    work_id: str = "work"
    kind: str = "audio"
    score: float = Field(ge=0.0, le=1.0)
    rights_holder_flags: tuple[str, ...] = ()


class _FactsCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matches: tuple[_MatchCase, ...] = ()
    consent_present: bool = False
    consent_scope: str = ""
    commercial_use: bool = False
    model_id: str = ""
    model_version: str = ""
    duration_seconds: float = 180.0
    territory: str = ""

    def facts(self) -> ScreeningFacts:
        data = self.model_dump()
        data["matches"] = tuple(MatchFacts(**m) for m in data["matches"])
        return ScreeningFacts(**data)


class TestCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    facts: _FactsCase
    expect: Effect


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: tuple[Rule, ...] = ()
    cases: tuple[TestCase, ...] = ()


@dataclass(frozen=True)
class Bundle:
    manifest: Manifest
    digest: str
    """SHA-256 of manifest.yaml, which pins every file's digest."""
    rules: tuple[Rule, ...]
    cases: tuple[TestCase, ...]
    files: Mapping[str, bytes]
    signature: bytes
    key_id: str

    @property
    def bundle_id(self) -> str:
        return self.manifest.bundle_id

    @property
    def revision(self) -> int:
        return self.manifest.revision

    def valid_at(self, when: dt.datetime) -> bool:
        return self.manifest.valid_from <= when < self.manifest.valid_until


def load(folder: Path, trusted_keys: Mapping[str, bytes]) -> Bundle:
    """Read a bundle directory; see `parse`."""
    try:
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    except OSError as exc:
        raise BundleError(f"{folder}: cannot read the bundle ({exc.strerror})") from exc
    return parse(files, trusted_keys)


def parse(files: Mapping[str, bytes], trusted_keys: Mapping[str, bytes]) -> Bundle:
    """Verify and parse a bundle given as file name -> bytes."""
    if MANIFEST not in files:
        raise BundleError(f"the bundle has no {MANIFEST}")
    if SIGNATURE not in files:
        raise BundleError(f"the bundle is unsigned: {SIGNATURE} is missing")
    key_id, signature = _verify_signature(files[MANIFEST], files[SIGNATURE], trusted_keys)
    manifest = _validated(MANIFEST, files[MANIFEST], Manifest)
    if manifest.valid_from.tzinfo is None or manifest.valid_until.tzinfo is None:
        raise BundleError(f"{MANIFEST}: valid_from and valid_until need a time zone (e.g. 2026-01-01T00:00:00Z)")
    listed = set(manifest.files)
    present = set(files) - {MANIFEST, SIGNATURE}
    if present - listed:
        raise BundleError(f"files not listed in the manifest: {', '.join(sorted(present - listed))}")
    rules: list[Rule] = []
    cases: list[TestCase] = []
    for name in sorted(listed):
        if name not in files:
            raise BundleError(f"{name} is listed in the manifest but missing")
        if hashlib.sha256(files[name]).hexdigest() != manifest.files[name]:
            raise BundleError(f"{name} does not match its SHA-256 in the manifest (tampered?)")
        parsed = _validated(name, files[name], _RuleFile)
        rules.extend(parsed.rules)
        cases.extend(parsed.cases)
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise BundleError(f"rule id '{rule.id}' is defined twice")
        seen.add(rule.id)
    return Bundle(manifest, hashlib.sha256(files[MANIFEST]).hexdigest(), tuple(rules), tuple(cases),
                  dict(files), signature, key_id)


def sign(folder: Path, key: Ed25519PrivateKey, key_id: str, *, bundle_id: str, revision: int,
         valid_from: dt.datetime, valid_until: dt.datetime) -> Path:
    """Write manifest.yaml (digests of every other .yaml file) and manifest.sig."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.glob("*.yaml")) if p.name != MANIFEST}
    manifest = yaml.safe_dump({
        "bundle_id": bundle_id, "revision": revision,
        "valid_from": valid_from.isoformat(), "valid_until": valid_until.isoformat(), "files": files,
    }, sort_keys=True).encode()
    (folder / MANIFEST).write_bytes(manifest)
    (folder / SIGNATURE).write_text(json.dumps(
        {"key_id": key_id, "signature": base64.b64encode(key.sign(manifest)).decode()}) + "\n")
    return folder / MANIFEST


def _verify_signature(manifest: bytes, signature_file: bytes, trusted: Mapping[str, bytes]) -> tuple[str, bytes]:
    try:
        data = json.loads(signature_file)
        key_id, signature = data["key_id"], base64.b64decode(data["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BundleError(f"{SIGNATURE} is malformed: {exc}") from exc
    if key_id not in trusted:
        raise BundleError(f"the bundle is signed by '{key_id}', which is not a trusted policy key")
    try:
        Ed25519PublicKey.from_public_bytes(trusted[key_id]).verify(signature, manifest)
    except InvalidSignature as exc:
        raise BundleError("the manifest's signature does not verify (tampered?)") from exc
    return key_id, signature


def _validated(name: str, data: bytes, model: type[BaseModel]) -> Any:
    try:
        node = yaml.compose(data.decode("utf-8"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError(f"{name}: not valid YAML: {exc}") from exc
    if node is None:
        raise BundleError(f"{name}: the file is empty")
    lines: dict[tuple, int] = {}
    value = _plain(node, (), lines)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), 1)
        where = ".".join(str(p) for p in loc) or "(top level)"
        raise BundleError(f"{name}:{line}: {where}: {first['msg']}") from exc


def _plain(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    """Node tree to plain values, remembering the line of every path for error messages."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _plain(value_node, path + (key,), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, path + (i,), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))
