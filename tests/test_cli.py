"""The `guard` command line against a real `guard serve` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from guard.client import connect
from guard.v1 import screening_pb2, screening_pb2_grpc
from tests.audio import DEMO_RATE, encode, synth_music, wav_bytes


def guard_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guard.cli", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "guard.cli", "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0",
         "--metrics-listen", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    address = data_dir / "server.address"
    deadline = time.monotonic() + 60
    while not address.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"guard serve did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.1)
    yield data_dir, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_fresh_data_dir_is_secure_and_ready(served) -> None:
    data_dir, _ = served
    for role in ("pipeline", "catalog", "legal", "auditor", "admin"):
        token = data_dir / "credentials" / f"{role}.token"
        assert token.stat().st_mode & 0o777 == 0o600
    assert (data_dir / "keys" / "prompt.key").stat().st_mode & 0o777 == 0o600
    assert (data_dir / "tls" / "server.key").stat().st_mode & 0o777 == 0o600
    registry = (data_dir / "credentials" / "registry.json").read_text()
    assert (data_dir / "credentials" / "pipeline.token").read_text().strip() not in registry


_TUNE = """X:1
T:The test reel
M:4/4
L:1/8
K:G
|:GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|GABc dedB|dedB dedB|c2ec B2dB|A2F2 G4:|
|:g2gf gdBd|g2f2 e2d2|c2ec B2dB|c2A2 A2df|g2gf g2Bd|g2f2 e2d2|c2ec B2dB|A2F2 G4:|
"""


def test_import_list_and_screen(served, tmp_path: Path) -> None:
    data_dir, proc = served
    songs = {n: synth_music(60 + n, 40.0) for n in range(3)}
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    for n, x in songs.items():
        (audio_dir / f"song{n}.ogg").write_bytes(encode(x, DEMO_RATE, "ogg"))
    (audio_dir / "quiet.wav").write_bytes(wav_bytes(np.zeros(DEMO_RATE * 5, np.float32), DEMO_RATE))
    lines = [
        {"work_id": "song-0", "title": "Zero", "rights_holder": "RH A", "audio": "audio/song0.ogg",
         "isrc": "GB-XYZ-26-00001", "label": "Blue", "year": 1999},
        {"work_id": "song-1", "title": "One", "rights_holder": "RH B", "audio": "audio/song1.ogg"},
        "{not json",
        {"work_id": "song-2", "title": "Two", "rights_holder": "RH B", "audio": "audio/missing.ogg"},
        {"work_id": "song-3", "title": "Three", "rights_holder": "RH C", "audio": "audio/quiet.wav"},
        {"work_id": "song-4", "title": "Four", "audio": "audio/song2.ogg"},
        {"work_id": "tune-1", "title": "A lead sheet", "rights_holder": "RH D", "melody": "audio/tune.abc"},
    ]
    (audio_dir / "tune.abc").write_text(_TUNE)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")

    first = guard_cli("catalog", "import", str(manifest), data_dir=data_dir)
    assert first.returncode == 1
    assert "imported 3 of 7 works (3 new, 0 already registered), 4 failed" in first.stdout
    for fragment in ("line 3", "line 4 (song-2)", "line 5 (song-3): INVALID_ARGUMENT", "silent",
                     "line 6 (song-4): missing rights_holder"):
        assert fragment in first.stdout

    manifest.write_text("\n".join(json.dumps(x) for x in lines[:2]) + "\n")
    again = guard_cli("catalog", "import", str(manifest), data_dir=data_dir)
    assert again.returncode == 0
    assert "(0 new, 2 already registered), 0 failed" in again.stdout

    listed = json.loads(guard_cli("catalog", "list", "--json", data_dir=data_dir).stdout)
    assert [w["details"]["work_id"] for w in listed] == ["song-0", "song-1", "tune-1"]
    assert listed[2]["melody_notes"] > 20 and "recording_sha256" not in listed[2]
    assert listed[0]["details"]["metadata"] == {"label": "Blue", "year": "1999"}
    assert listed[0]["details"]["isrc"] == "GB-XYZ-26-00001"

    query = tmp_path / "query.mp3"
    query.write_bytes(encode(songs[1][10 * DEMO_RATE: 25 * DEMO_RATE], DEMO_RATE, "mp3"))
    human = guard_cli("screen", str(query), "--prompt", "secret words", data_dir=data_dir)
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith("verdict: block")
    assert 'song-1 "One" (RH B)' in human.stdout
    as_json = json.loads(guard_cli("screen", str(query), "--json", data_dir=data_dir).stdout)
    assert as_json["verdict"] == "VERDICT_BLOCK"
    assert as_json["matches"][0]["work_id"] == "song-1"
    assert as_json["matches"][0]["kind"] == "MATCH_KIND_AUDIO"

    (tmp_path / "generated.abc").write_text(_TUNE.replace("K:G", "K:A"))
    melodic = guard_cli("screen", str(query), "--melody", str(tmp_path / "generated.abc"), data_dir=data_dir)
    assert melodic.returncode == 0, melodic.stderr
    assert 'tune-1 "A lead sheet" (RH D): query' in melodic.stdout and "[melody]" in melodic.stdout
    assert "melody: melody file 'generated.abc'" in melodic.stdout

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"definitely not audio" * 100)
    refused = guard_cli("screen", str(bad), data_dir=data_dir)
    assert refused.returncode == 2 and "INVALID_ARGUMENT" in refused.stderr

    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert "secret words" not in err
    request_lines = [json.loads(line) for line in err.splitlines() if '"event": "request"' in line]
    assert request_lines and all({"request_id", "role", "method", "status", "duration_ms"} <= set(r)
                                 for r in request_lines)


def test_sigterm_drains_in_flight_requests(served) -> None:
    data_dir, proc = served
    audio = wav_bytes(synth_music(70, 30.0), DEMO_RATE)
    conn = connect(data_dir, "pipeline")
    stub = screening_pb2_grpc.ScreeningServiceStub(conn.channel)
    sent_first = []

    def messages():
        yield screening_pb2.ScreenStreamRequest(generation=screening_pb2.Generation(model_id="m"))
        yield screening_pb2.ScreenStreamRequest(audio_chunk=audio[: len(audio) // 2])
        sent_first.append(True)
        time.sleep(1.0)  # let the server dispatch the call: only calls already running are drained
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        yield screening_pb2.ScreenStreamRequest(audio_chunk=audio[len(audio) // 2:])

    result = stub.ScreenStream(messages(), metadata=conn.metadata, timeout=60)
    assert sent_first and result.verdict == screening_pb2.VERDICT_REVIEW
    assert proc.wait(timeout=60) == 0
    with pytest.raises(grpc.RpcError):
        stub.ScreenStream(iter([screening_pb2.ScreenStreamRequest(audio_chunk=audio)]), metadata=conn.metadata,
                          timeout=5)
    conn.close()
    assert os.path.exists(data_dir / "index" / "audio.json")
