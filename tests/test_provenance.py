"""Signed records, the transparency log and the auditor's offline verification, tampering included."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from guard.datadir import DataDir
from guard.provenance import dsse, merkle
from guard.provenance.bundle import Bundle, CheckpointUpdate, Leaf
from guard.provenance.keyring import Keyring, rfc3339
from guard.provenance.note import (
    Checkpoint,
    NoteError,
    note_key_id,
    open_note,
    sign_note,
)
from guard.provenance.record import PAYLOAD_TYPE, canonical, prompt_hash
from guard.provenance.verify import (
    SeenCheckpoint,
    verify_bundle,
    verify_checkpoint_update,
)
from guard.storage import create_engine_for, migrate
from guard.v1 import provenance_pb2, provenance_pb2_grpc
from tests.audio import DEMO_RATE, synth_music, wav_bytes
from tests.conftest import Guard
from tests.test_service import PROMPT, register, screen


def test_ed25519_matches_rfc_8032_test_1() -> None:
    secret = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = Ed25519PrivateKey.from_private_bytes(secret)
    assert key.public_key().public_bytes_raw().hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def test_dsse_pre_authentication_encoding() -> None:
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")


def test_jcs_corner_cases() -> None:
    assert canonical({"b": 1e-7, "a": -0.0}) == b'{"a":0,"b":1e-7}'
    # Keys sort by UTF-16 code units: U+1F600 (surrogates D83D DE00) sorts before U+FB01.
    assert canonical({"\ufb01": 1, "\U0001F600": 2}) == '{"\U0001F600":2,"\ufb01":1}'.encode()
    assert canonical({"z": [1, "é"], "a": {"y": None, "x": True}}) == '{"a":{"x":true,"y":null},"z":[1,"é"]}'.encode()
    assert canonical({"a": 1}) != json.dumps({"a": 1}, sort_keys=True).encode()


def test_signed_note_key_id_and_tampering() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    assert note_key_id("example.com/log", public) == hashlib.sha256(
        b"example.com/log\n\x01" + public).digest()[:4]
    body = Checkpoint("example.com/log", 3, bytes(32)).body()
    note = sign_note(body, "example.com/log", key)
    assert open_note(note, "example.com/log", public) == body
    with pytest.raises(NoteError):
        open_note(note.replace("\n3\n", "\n4\n"), "example.com/log", public)
    with pytest.raises(NoteError):
        open_note(note, "example.com/other", public)


@pytest.fixture
def logged(guard: Guard):
    """A guard with three screenings logged; returns (guard, screen responses, keyring, data dir)."""
    register(guard, "work-1", wav_bytes(synth_music(81, 40.0), DEMO_RATE))
    responses = [screen(guard, wav_bytes(synth_music(81, 40.0)[: 15 * DEMO_RATE], DEMO_RATE), prompt=PROMPT)]
    responses += [screen(guard, wav_bytes(synth_music(90 + n, 12.0), DEMO_RATE)) for n in range(2)]
    data_dir = DataDir(guard.settings.data_dir)
    return guard, responses, data_dir.signing_keys.keyring(), data_dir


def export(guard: Guard, record_id: str) -> Bundle:
    conn = guard.connect("auditor")
    stub = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel)
    reply = stub.ExportBundle(provenance_pb2.ExportBundleRequest(record_id=record_id), metadata=conn.metadata)
    conn.close()
    return Bundle.from_json(reply.bundle)


def failed(report) -> set[str]:
    return {c.name for c in report.checks if not c.ok}


def test_every_screening_is_signed_logged_and_verifies(logged) -> None:
    guard, responses, keyring, _ = logged
    assert [r.log_index for r in responses] == [0, 1, 2]
    first = responses[0]
    bundle = export(guard, first.record_id)
    report = verify_bundle(bundle, keyring)
    assert report.ok, report.to_dict()
    record = report.record
    assert record["screening_id"] == first.screening_id
    assert record["prompt"]["salted_sha256"] == prompt_hash(PROMPT, first.prompt_salt)
    assert PROMPT not in bundle.to_json()
    assert record["screening"]["verdict"] == "block"
    assert record["policy"]["decision"] == "block" and record["policy"]["determining_rules"] == ["block-audio-reuse"]
    match = record["screening"]["matches"][0]
    assert match["work_id"] == "work-1" and isinstance(match["score_bp"], int) and match["score_bp"] == 10_000
    assert record["c2pa"]["assertions"][0]["data"]["actions"][0]["digitalSourceType"].endswith(
        "trainedAlgorithmicMedia")
    assert record["soft_binding"]["blocks"][0]["scope"]["timespan"]["start_ms"] == 0
    assert record["audio"]["sha256"] == first.audio_sha256

    replay = screen(guard, wav_bytes(synth_music(90, 12.0), DEMO_RATE))
    assert replay.log_index == 3


def test_get_record_and_consistency_proofs_over_grpc(logged) -> None:
    guard, responses, keyring, _ = logged
    conn = guard.connect("legal")
    stub = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel)
    md = conn.metadata
    got = stub.GetRecord(provenance_pb2.GetRecordRequest(record_id=responses[1].record_id), metadata=md)
    assert json.loads(got.payload)["record_id"] == responses[1].record_id
    assert got.log_index == 1 and got.tree_size == 3
    merkle.verify_inclusion(merkle.leaf_hash(got.leaf), 1, 3, list(got.inclusion_proof),
                            base64.b64decode(got.checkpoint.split("\n")[2]))
    first = stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(), metadata=md)
    screen(guard, wav_bytes(synth_music(99, 12.0), DEMO_RATE))
    later = stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(old_size=first.size), metadata=md)
    merkle.verify_consistency(first.size, later.size, first.root, later.root, list(later.consistency_proof))
    proof = stub.GetConsistencyProof(provenance_pb2.GetConsistencyProofRequest(old_size=1, new_size=4), metadata=md)
    first_leaf = stub.GetRecord(provenance_pb2.GetRecordRequest(record_id=responses[0].record_id), metadata=md).leaf
    merkle.verify_consistency(1, 4, merkle.root_of([merkle.leaf_hash(first_leaf)]), later.root, list(proof.hashes))
    keyring_json = stub.GetKeyring(provenance_pb2.GetKeyringRequest(), metadata=md).keyring
    assert Keyring.from_json(keyring_json) == keyring
    conn.close()


def _resign(bundle: Bundle, payload: bytes, data_dir: DataDir, payload_type: str = PAYLOAD_TYPE) -> Bundle:
    """What an operator holding the key could do: sign different bytes."""
    key, private = data_dir.signing_keys.signing_key(dt.datetime.now(dt.timezone.utc))
    return replace(bundle, envelope=dsse.sign(payload_type, payload, key.key_id, private))


def test_tampering_is_detected(logged) -> None:
    guard, responses, keyring, data_dir = logged
    bundle = export(guard, responses[0].record_id)
    record = json.loads(bundle.envelope.payload)

    changed_prompt = dict(record, prompt=dict(record["prompt"], salted_sha256="0" * 64))
    forged = replace(bundle, envelope=replace(bundle.envelope, payload=canonical(changed_prompt)))
    assert {"signature", "log entry"} <= failed(verify_bundle(forged, keyring))

    cleared = dict(record, screening=dict(record["screening"], verdict="clear", matches=[]))
    assert "signature" in failed(verify_bundle(
        replace(bundle, envelope=replace(bundle.envelope, payload=canonical(cleared))), keyring))
    assert failed(verify_bundle(_resign(bundle, canonical(cleared), data_dir), keyring)) == {"log entry"}

    spaced = json.dumps(record, indent=1).encode()
    assert "canonical form" in failed(verify_bundle(_resign(bundle, spaced, data_dir), keyring))

    wrong_type = _resign(bundle, bundle.envelope.payload, data_dir, payload_type="application/json")
    assert failed(verify_bundle(wrong_type, keyring)) == {"payload type"}

    moved = replace(bundle, log_index=1)
    assert "inclusion proof" in failed(verify_bundle(moved, keyring))

    other_leaf = export(guard, responses[1].record_id).leaf
    assert "log entry" in failed(verify_bundle(replace(bundle, leaf=other_leaf), keyring))

    leaf = Leaf.decode(bundle.leaf)
    early = replace(leaf, integrated_at=leaf.integrated_at - dt.timedelta(days=30))
    assert {"inclusion proof", "screening time"} <= failed(verify_bundle(replace(bundle, leaf=early.encode()),
                                                                        keyring))

    backdated = canonical(dict(record, screened_at=rfc3339(leaf.integrated_at - dt.timedelta(days=2))))
    logged_today = replace(leaf, payload_sha256=hashlib.sha256(backdated).hexdigest()).encode()
    _, private = data_dir.signing_keys.signing_key(dt.datetime.now(dt.timezone.utc))
    tree = merkle.MerkleTree([merkle.leaf_hash(logged_today)])
    note = sign_note(Checkpoint(keyring.origin, 1, tree.root()).body(), keyring.origin, private)
    operator_made = replace(_resign(bundle, backdated, data_dir), leaf=logged_today, log_index=0, tree_size=1,
                            inclusion_proof=(), checkpoint=note)
    assert failed(verify_bundle(operator_made, keyring)) == {"screening time"}

    stranger = Keyring(keyring.origin, ())
    assert {"signature", "checkpoint signature"} <= failed(verify_bundle(bundle, stranger))


def test_a_rewritten_history_is_caught_by_the_auditors_checkpoint(logged) -> None:
    guard, responses, keyring, data_dir = logged
    conn = guard.connect("auditor")
    stub = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel)
    first = CheckpointUpdate.from_json(stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(),
                                                          metadata=conn.metadata).checkpoint_update)
    now = dt.datetime(2026, 11, 24, 13, tzinfo=dt.timezone.utc)
    report, seen = verify_checkpoint_update(first, keyring, None, now)
    assert report.ok and seen is not None and seen.checkpoint.size == 3

    screen(guard, wav_bytes(synth_music(120, 12.0), DEMO_RATE))
    honest = CheckpointUpdate.from_json(stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(old_size=3),
                                                           metadata=conn.metadata).checkpoint_update)
    report, newer = verify_checkpoint_update(honest, keyring, seen, now)
    assert report.ok and newer.checkpoint.size == 4
    missing_proof = replace(honest, old_size=0, proof=())
    assert not verify_checkpoint_update(missing_proof, keyring, seen, now)[0].ok

    leaves = [merkle.leaf_hash(export(guard, r.record_id).leaf) for r in responses]
    dropped = merkle.MerkleTree([leaves[0], leaves[2], merkle.leaf_hash(b"replacement"), leaves[1]])
    _, private = data_dir.signing_keys.signing_key(dt.datetime.now(dt.timezone.utc))
    forged_note = sign_note(Checkpoint(keyring.origin, 4, dropped.root()).body(), keyring.origin, private)
    forged = CheckpointUpdate(forged_note, 3, tuple(dropped.consistency_proof(3, 4)))
    report, kept = verify_checkpoint_update(forged, keyring, seen, now)
    assert not report.ok and kept is seen
    assert "consistency with last seen" in failed(report)

    rolled_back = CheckpointUpdate(sign_note(Checkpoint(keyring.origin, 2, dropped.root(2)).body(),
                                             keyring.origin, private), 0, ())
    assert "shrank" in verify_checkpoint_update(rolled_back, keyring, seen, now)[0].checks[-1].detail

    late = export(guard, responses[2].record_id)
    assert verify_bundle(late, keyring, seen).ok
    early_seen = SeenCheckpoint(Checkpoint(keyring.origin, 2, dropped.root(2)), forged_note,
                                observed_at=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
    assert "against last seen checkpoint" in failed(verify_bundle(late, keyring, early_seen))
    conn.close()


def test_rotation_keeps_old_records_valid_and_compromise_invalidates_from_its_time(logged) -> None:
    guard, responses, keyring, data_dir = logged
    old_key = keyring.keys[0]
    old_bundle = export(guard, responses[0].record_id)
    rotated_at = Leaf.decode(export(guard, responses[2].record_id).leaf).integrated_at + dt.timedelta(seconds=1)
    data_dir.signing_keys.rotate(rotated_at)
    new_record = screen(guard, wav_bytes(synth_music(130, 12.0), DEMO_RATE))
    rotated = data_dir.signing_keys.keyring()
    assert verify_bundle(old_bundle, rotated).ok
    new_bundle = export(guard, new_record.record_id)
    assert new_bundle.envelope.signatures[0].keyid != old_key.key_id
    assert verify_bundle(new_bundle, rotated).ok

    leaked_at = Leaf.decode(old_bundle.leaf).integrated_at - dt.timedelta(seconds=1)
    compromised = data_dir.signing_keys.mark_compromised(old_key.key_id, leaked_at)
    report = verify_bundle(old_bundle, compromised)
    assert "key validity at integration" in failed(report)
    assert verify_bundle(new_bundle, compromised).ok


def test_log_tables_reject_updates_and_deletes(database_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(database_url)
    migrate(engine)
    now = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(text("insert into log_entry (index, kind, subject, leaf, leaf_hash, integrated_at) "
                          "values (0, 'k', 's', :b, :b, :t)".replace("(index", '("index"')),
                     {"b": b"x", "t": now})
    for statement in ('update log_entry set kind = \'x\'', "delete from log_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from log_entry")).scalar() == 1
    engine.dispose()


def test_audit_command_line(logged, tmp_path: Path) -> None:
    guard, responses, keyring, data_dir = logged
    keyring_file = tmp_path / "keyring.json"
    keyring_file.write_text(keyring.to_json())
    good = tmp_path / "good.json"
    good.write_text(export(guard, responses[0].record_id).to_json())
    bad = tmp_path / "bad.json"
    data = json.loads(good.read_text())
    data["log_entry"]["index"] = 2
    bad.write_text(json.dumps(data))
    state = tmp_path / "state.json"

    def audit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "guard.cli", "audit", *args, "--keyring", str(keyring_file),
                               "--state", str(state)], capture_output=True, text=True, timeout=120)

    ok = audit("verify", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK   record rec_test000000")
    assert "[ok] inclusion proof" in ok.stdout
    both = audit("verify", str(good), str(bad), "--json")
    assert both.returncode == 1
    verdicts = json.loads(both.stdout)
    assert [v["ok"] for v in verdicts] == [True, False]

    update = tmp_path / "update.json"
    conn = guard.connect("auditor")
    stub = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel)
    update.write_text(stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(), metadata=conn.metadata)
                      .checkpoint_update)
    assert audit("checkpoint", str(update)).returncode == 0 and state.exists()
    screen(guard, wav_bytes(synth_music(140, 12.0), DEMO_RATE))
    update.write_text(stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(), metadata=conn.metadata)
                      .checkpoint_update)
    refused = audit("checkpoint", str(update))
    assert refused.returncode == 1 and "consistency proof from size 3 is required" in refused.stdout
    update.write_text(stub.GetCheckpoint(provenance_pb2.GetCheckpointRequest(old_size=3), metadata=conn.metadata)
                      .checkpoint_update)
    assert audit("checkpoint", str(update)).returncode == 0
    conn.close()


def test_private_keys_are_owner_only_and_never_logged(logged, capsys) -> None:
    _, _, keyring, data_dir = logged
    pem = data_dir.signing_keys.folder / f"{keyring.keys[0].key_id}.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    secret_line = pem.read_text().splitlines()[1]
    logs = capsys.readouterr()
    assert secret_line not in logs.out + logs.err
