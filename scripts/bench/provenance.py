"""Provenance benchmark: signing + logging throughput, proof sizes and verification at 1M entries,
`guard audit verify` time per bundle. Prints the figures and writes them to docs/benchmarks.md.

Run: scripts/bench/run-provenance   (or .venv/bin/python scripts/bench/provenance.py [--entries N])
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from _report import machine, write_section  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from guard.provenance import dsse, merkle, record  # noqa: E402
from guard.provenance.keyring import KeyStore  # noqa: E402
from guard.provenance.log import TransparencyLog  # noqa: E402
from guard.provenance.verify import verify_bundle  # noqa: E402
from guard.storage import create_engine_for, migrate  # noqa: E402
from guard.storage.models import ProvenanceRecordRow  # noqa: E402

T0 = dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc)


def record_input(n: int, codes: np.ndarray) -> record.RecordInput:
    return record.RecordInput(
        record_id=f"rec_{n:012d}", screening_id=f"scr_{n:012d}", screened_at=T0 + dt.timedelta(seconds=n),
        audio_sha256="ab" * 32, duration_seconds=180.0, fingerprint_codes=codes,
        fingerprint_hop_seconds=0.12381, prompt_salted_sha256="cd" * 32, model_id="lyra-music",
        model_version="2.1.0", consent=record.Consent("consent-42", "commercial", T0), pipeline_id="bench",
        verdict="match", matches=[record.RecordMatch("work-1", "audio", "chromaprint", 0.99995, 1.2e-9,
                                                     10.0, 25.0, 40.0, 55.0)],
    )


def throughput(folder: Path, count: int) -> dict:
    """Build, canonicalise, sign and log `count` records, one transaction each, as Screen does."""
    engine = create_engine_for(f"sqlite:///{folder / 'bench.db'}")
    migrate(engine)
    keys = KeyStore(folder / "keys")
    keys.create("guard.bench/log", T0)
    clock = iter(T0 + dt.timedelta(microseconds=i) for i in range(10**9)).__next__
    log = TransparencyLog(engine, keys, clock)
    codes = np.random.default_rng(0).integers(0, 2**32, 1450, dtype=np.uint64).astype(np.uint32)
    stages = {"build+jcs": 0.0, "sign": 0.0, "store": 0.0}
    start = time.perf_counter()
    for n in range(count):
        t = time.perf_counter()
        payload = record.canonical(record.build(record_input(n, codes)))
        t1 = time.perf_counter()
        now = clock()
        key, private = keys.signing_key(now)
        envelope = dsse.sign(record.PAYLOAD_TYPE, payload, key.key_id, private)
        t2 = time.perf_counter()
        with log.appending() as pending, Session(engine) as session:
            pending.add_record(session, f"rec_{n:012d}", f"scr_{n:012d}", envelope, now)
            session.commit()
        t3 = time.perf_counter()
        stages["build+jcs"] += t1 - t
        stages["sign"] += t2 - t1
        stages["store"] += t3 - t2
    elapsed = time.perf_counter() - start
    bundle = log.bundle(ProvenanceRecordRow(record_id="rec_000000000000", screening_id="scr_000000000000",
                                            envelope=_envelope_of(engine, 0), key_id="", log_index=0))
    engine.dispose()
    return {"records": count, "seconds": elapsed, "per_second": count / elapsed,
            "stage_us": {k: v / count * 1e6 for k, v in stages.items()}, "bundle": bundle,
            "keyring": keys.keyring()}


def _envelope_of(engine, index: int) -> str:
    with Session(engine) as session:
        return session.exec(select(ProvenanceRecordRow).where(ProvenanceRecordRow.log_index == index)).one().envelope


def proofs_at_scale(entries: int) -> dict:
    start = time.perf_counter()
    tree = merkle.MerkleTree()
    for i in range(entries):
        tree.append(merkle.leaf_hash(i.to_bytes(8, "big")))
    build = time.perf_counter() - start
    rng = np.random.default_rng(1)
    inclusion_sizes, verify_times, consistency_sizes = [], [], []
    root = tree.root()
    for index in rng.integers(0, entries, 200).tolist():
        proof = tree.inclusion_proof(index, entries)
        inclusion_sizes.append(sum(len(p) for p in proof))
        t = time.perf_counter()
        merkle.verify_inclusion(tree.leaf(index), index, entries, proof, root)
        verify_times.append(time.perf_counter() - t)
    for old in rng.integers(1, entries, 50).tolist():
        consistency_sizes.append(sum(len(p) for p in tree.consistency_proof(old, entries)))
    return {
        "entries": entries, "build_s": build,
        "inclusion_bytes_max": max(inclusion_sizes), "inclusion_bytes_mean": statistics.mean(inclusion_sizes),
        "verify_ms_p50": 1000 * float(np.percentile(verify_times, 50)),
        "verify_ms_p99": 1000 * float(np.percentile(verify_times, 99)),
        "consistency_bytes_max": max(consistency_sizes),
    }


def audit_times(folder: Path, bundle, keyring) -> dict:
    path = folder / "bundle.json"
    path.write_text(bundle.to_json())
    (folder / "keyring.json").write_text(keyring.to_json())
    in_process = []
    for _ in range(200):
        t = time.perf_counter()
        assert verify_bundle(bundle, keyring).ok
        in_process.append(time.perf_counter() - t)
    command = [sys.executable, "-m", "guard.cli", "audit", "verify", str(path), "--keyring",
               str(folder / "keyring.json"), "--state", str(folder / "state.json")]
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    many = [folder / f"b{i}.json" for i in range(100)]
    for p in many:
        p.write_text(bundle.to_json())
    t = time.perf_counter()
    subprocess.run(command[:5] + [str(p) for p in many] + command[6:], check=True, capture_output=True)
    batch = time.perf_counter() - t
    return {"in_process_ms_p50": 1000 * statistics.median(in_process), "command_s_p50": statistics.median(walls),
            "command_100_bundles_s": batch, "bundle_bytes": len(bundle.to_json())}


def main() -> None:
    where = machine()
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rate = throughput(folder, args.records)
        print(f"signed and logged {rate['records']} records in {rate['seconds']:.2f} s: "
              f"{rate['per_second']:.0f} records/s; per record {rate['stage_us']}")
        scale = proofs_at_scale(args.entries)
        print(f"at {scale['entries']:,} entries: {scale}")
        audit = audit_times(folder, rate["bundle"], rate["keyring"])
        print(f"audit: {audit}")
    command = "scripts/bench/run-provenance " + " ".join(sys.argv[1:])
    su = rate["stage_us"]
    write_section("provenance", f"""## Provenance: signing, logging, proofs, offline audit

Command: `{command.strip()}` ({where}; pinned to one core by the wrapper with `taskset -c 0`)

| figure | measured | target |
|---|---|---|
| records signed and logged (SQLite, one transaction per record, one core) | **{rate['per_second']:.0f} records/s** ({rate['records']} records in {rate['seconds']:.2f} s) | >= 2,000/s |
| per record: build + RFC 8785 / Ed25519 DSSE signature / store (record + leaf, commit) | {su['build+jcs']:.0f} / {su['sign']:.0f} / {su['store']:.0f} us | |
| inclusion proof size at {scale['entries']:,} entries | max {scale['inclusion_bytes_max']} B (mean {scale['inclusion_bytes_mean']:.0f} B) of hashes | <= 1 KiB |
| inclusion proof verification at {scale['entries']:,} entries | p50 {scale['verify_ms_p50']:.3f} ms, p99 {scale['verify_ms_p99']:.3f} ms | <= 5 ms |
| consistency proof size at {scale['entries']:,} entries | max {scale['consistency_bytes_max']} B | |
| in-memory tree build for {scale['entries']:,} leaves (server start) | {scale['build_s']:.1f} s | |
| `verify_bundle` in process | p50 {audit['in_process_ms_p50']:.2f} ms per bundle ({audit['bundle_bytes']} B bundle) | |
| `guard audit verify` command, one bundle (includes Python start-up) | p50 {audit['command_s_p50']:.2f} s | |
| `guard audit verify` command, 100 bundles in one call | {audit['command_100_bundles_s']:.2f} s | |
""")


if __name__ == "__main__":
    main()
