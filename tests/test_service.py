"""The service end to end: a real server on a loopback port, over TLS, with real credentials."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import grpc
import librosa
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlmodel import Session, create_engine, select

from guard.storage.models import ScreeningFingerprintRow, ScreeningRow, WorkRow
from guard.v1 import catalog_pb2, catalog_pb2_grpc, screening_pb2, screening_pb2_grpc
from tests.audio import DEMO_RATE, encode, synth_music, wav_bytes, wav_header_only
from tests.conftest import Guard

PROMPT = "a melancholy waltz for a rainy harbour town, in the style of nobody"


def register(guard: Guard, work_id: str, audio: bytes, **details: str) -> catalog_pb2.RegisterWorkResponse:
    conn = guard.connect("catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    work = catalog_pb2.WorkDetails(work_id=work_id, title=details.get("title", f"Title of {work_id}"),
                                   rights_holder=details.get("rights_holder", "Example Music Ltd"))

    def messages():
        yield catalog_pb2.RegisterWorkRequest(work=work)
        for i in range(0, len(audio), 65536):
            yield catalog_pb2.RegisterWorkRequest(recording_chunk=audio[i:i + 65536])

    try:
        return stub.RegisterWork(messages(), metadata=conn.metadata)
    finally:
        conn.close()


def screen(guard: Guard, audio: bytes, key: str = "", role: str = "pipeline", **generation: str):
    conn = guard.connect(role)
    stub = screening_pb2_grpc.ScreeningServiceStub(conn.channel)
    try:
        return stub.Screen(
            screening_pb2.ScreenRequest(
                audio=audio, idempotency_key=key,
                generation=screening_pb2.Generation(
                    prompt=generation.get("prompt", PROMPT), model_id=generation.get("model_id", "lyra-music"),
                    model_version="2.1.0", consent_reference="consent-42", pipeline_id="test-pipeline",
                ),
            ),
            metadata=conn.metadata,
        )
    finally:
        conn.close()


def audio_matches(result: screening_pb2.ScreenResponse) -> list[screening_pb2.Match]:
    return [m for m in result.matches if m.kind == screening_pb2.MATCH_KIND_AUDIO]


def status_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


@pytest.fixture
def song() -> np.ndarray:
    return synth_music(21, 60.0)


def test_register_screen_match_and_clear_on_each_database(guard_on_each_database: Guard, song) -> None:
    g = guard_on_each_database
    response = register(g, "work-1", encode(song, DEMO_RATE, "flac"), title="Harbour Waltz")
    assert response.created
    assert response.work.recording_seconds == pytest.approx(60.0, abs=0.1)

    excerpt = encode(song[int(25 * DEMO_RATE):int(40 * DEMO_RATE)], DEMO_RATE, "mp3")
    result = screen(g, excerpt)
    assert result.verdict == screening_pb2.VERDICT_BLOCK
    (match,) = audio_matches(result)
    assert match.work_id == "work-1" and match.title == "Harbour Waltz"
    assert match.kind == screening_pb2.MATCH_KIND_AUDIO and match.fingerprint == "chromaprint"
    assert match.reference_start_seconds == pytest.approx(25.0, abs=0.3)
    assert 0.9999 < match.score <= 1.0
    assert {t.stage for t in result.timings} == {"decode", "fingerprint", "melody", "match", "melody_match", "decide",
                                                 "store"}
    assert result.decision.determining_rules == ["block-audio-reuse"] and result.decision.bundle_id == "guard-default"

    clear = screen(g, encode(synth_music(22, 20.0), DEMO_RATE, "ogg"))
    assert clear.verdict == screening_pb2.VERDICT_ALLOW and not clear.matches


def test_re_pitched_and_re_timed_copy_is_found_by_the_landmark_fingerprint(guard_on_each_database: Guard,
                                                                           song) -> None:
    g = guard_on_each_database
    register(g, "work-1", encode(song, DEMO_RATE, "flac"))
    copy = librosa.effects.time_stretch(librosa.effects.pitch_shift(song[20 * DEMO_RATE:32 * DEMO_RATE],
                                                                    sr=DEMO_RATE, n_steps=-2), rate=1.08)
    result = screen(g, encode(copy, DEMO_RATE, "ogg"))
    assert result.verdict == screening_pb2.VERDICT_BLOCK
    (match,) = audio_matches(result)
    assert match.work_id == "work-1" and match.fingerprint == "landmarks" and match.bit_error_rate == 0
    assert match.pitch_shift_semitones == pytest.approx(-2.0, abs=0.15)
    assert match.tempo_ratio == pytest.approx(1.08, abs=0.015)
    assert match.reference_start_seconds == pytest.approx(20.0 + match.query_start_seconds * 1.08, abs=0.5)
    engine = create_engine(g.settings.effective_database_url)
    with Session(engine) as session:
        stored = session.exec(select(ScreeningFingerprintRow.algorithm)
                              .where(ScreeningFingerprintRow.screening_id == result.screening_id)).all()
    assert sorted(stored) == ["chromaprint", "landmarks", "melody"]


def test_retry_with_the_same_idempotency_key_returns_the_same_screening(guard: Guard, song) -> None:
    register(guard, "work-1", wav_bytes(song, DEMO_RATE))
    audio = wav_bytes(song[: 20 * DEMO_RATE], DEMO_RATE)
    first = screen(guard, audio, key="job-7")
    again = screen(guard, audio, key="job-7")
    assert again.screening_id == first.screening_id
    assert again.replayed and not first.replayed
    assert list(again.matches) == list(first.matches)
    engine = create_engine(guard.settings.effective_database_url)
    with Session(engine) as session:
        assert len(session.exec(select(ScreeningRow)).all()) == 1
    code, details = status_of(lambda: screen(guard, wav_bytes(synth_music(9, 10.0), DEMO_RATE), key="job-7"))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "different audio" in details


def test_audio_a_work_holds_twice_is_reported_with_its_repeat_and_replayed_alike(guard: Guard, song) -> None:
    chorus = song[10 * DEMO_RATE:25 * DEMO_RATE]
    register(guard, "looping", wav_bytes(np.concatenate([chorus, synth_music(23, 20.0), chorus]), DEMO_RATE))
    audio = wav_bytes(chorus[2 * DEMO_RATE:12 * DEMO_RATE], DEMO_RATE)
    first = screen(guard, audio, key="job-loop")
    (match,) = audio_matches(first)
    places = sorted([match.reference_start_seconds, *(r.start_seconds for r in match.repeats)])
    assert places == [pytest.approx(2.0, abs=0.5), pytest.approx(37.0, abs=0.5)]
    assert list(screen(guard, audio, key="job-loop").matches) == list(first.matches)


def test_prompt_is_encrypted_at_rest_and_never_logged(guard: Guard, capsys) -> None:
    screen(guard, wav_bytes(synth_music(30, 10.0), DEMO_RATE))
    raw = (guard.settings.data_dir / "guard.db").read_bytes()
    wal = guard.settings.data_dir / "guard.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert PROMPT.encode() not in raw
    assert b"lyra-music" in raw
    logs = capsys.readouterr()
    assert PROMPT not in logs.out + logs.err
    assert "Bearer" not in logs.out + logs.err


@pytest.mark.parametrize(
    "audio,code,fragment",
    [
        (b"", grpc.StatusCode.INVALID_ARGUMENT, "empty"),
        (b"GIF89a" + bytes(2000), grpc.StatusCode.INVALID_ARGUMENT, "not a recognised audio file"),
        (wav_header_only(channels=4096, rate=44100), grpc.StatusCode.INVALID_ARGUMENT, "channel count"),
        (wav_header_only(channels=2, rate=3), grpc.StatusCode.INVALID_ARGUMENT, "sample rate"),
        (wav_bytes(np.zeros(DEMO_RATE * 5, np.float32), DEMO_RATE), grpc.StatusCode.INVALID_ARGUMENT, "silent"),
        (wav_bytes(synth_music(1, 20.0), DEMO_RATE)[:200_000], grpc.StatusCode.INVALID_ARGUMENT, "truncated"),
    ],
)
def test_bad_audio_gets_a_clear_status_and_stores_nothing(guard: Guard, audio, code, fragment) -> None:
    got, details = status_of(lambda: screen(guard, audio))
    assert got == code and fragment in details
    assert _screenings(guard) == 0
    assert screen(guard, wav_bytes(synth_music(2, 10.0), DEMO_RATE)).verdict == screening_pb2.VERDICT_ALLOW


def test_malformed_metadata_is_invalid(guard: Guard) -> None:
    audio = wav_bytes(synth_music(2, 10.0), DEMO_RATE)
    code, details = status_of(lambda: screen(guard, audio, key="has spaces in it"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "idempotency_key" in details
    code, details = status_of(lambda: screen(guard, audio, model_id="x" * 300))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "model_id" in details
    code, details = status_of(lambda: screen(guard, audio, prompt="bell\x07"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "control characters" in details
    assert _screenings(guard) == 0


def test_limits_give_resource_exhausted(tmp_path) -> None:
    from guard.config import MIB, Limits
    from tests.conftest import start_guard

    g = start_guard(tmp_path / "data", limits=Limits(max_request_bytes=1 * MIB, max_upload_bytes=2 * MIB,
                                                     max_audio_seconds=30))
    try:
        big = wav_bytes(synth_music(3, 40.0), DEMO_RATE)  # ~1.7 MiB, 40 s
        code, _ = status_of(lambda: screen(g, big + bytes(MIB)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        code, details = status_of(lambda: register(g, "w", big + bytes(2 * MIB)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "MiB limit" in details
        code, details = status_of(lambda: register(g, "w", big))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "30 s limit" in details
        assert screen(g, wav_bytes(synth_music(3, 10.0), DEMO_RATE)).verdict == screening_pb2.VERDICT_ALLOW
    finally:
        g.running.stop(grace=1)


def test_streamed_screening_of_a_large_file(guard: Guard, song) -> None:
    register(guard, "work-1", wav_bytes(song, DEMO_RATE))
    audio = encode(song, DEMO_RATE, "wavf32", channels=2)
    conn = guard.connect("pipeline")
    stub = screening_pb2_grpc.ScreeningServiceStub(conn.channel)

    def messages():
        yield screening_pb2.ScreenStreamRequest(generation=screening_pb2.Generation(model_id="m"))
        for i in range(0, len(audio), 1 << 20):
            yield screening_pb2.ScreenStreamRequest(audio_chunk=audio[i:i + (1 << 20)])

    result = stub.ScreenStream(messages(), metadata=conn.metadata)
    conn.close()
    assert {m.work_id for m in result.matches} == {"work-1"}


def test_every_rpc_needs_a_credential_and_a_role(guard: Guard) -> None:
    conn = guard.connect("pipeline")
    catalog = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    screening = screening_pb2_grpc.ScreeningServiceStub(conn.channel)
    request = screening_pb2.ScreenRequest(audio=b"x")
    code, _ = status_of(lambda: screening.Screen(request))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    code, _ = status_of(lambda: screening.Screen(request, metadata=(("authorization", "Bearer nope"),)))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    code, details = status_of(lambda: catalog.RetireWork(catalog_pb2.RetireWorkRequest(work_id="a"),
                                                         metadata=conn.metadata))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "role 'pipeline'" in details
    for role in ("legal", "auditor", "catalog"):
        other = guard.connect(role)
        code, _ = status_of(lambda: screening_pb2_grpc.ScreeningServiceStub(other.channel).Screen(
            request, metadata=other.metadata))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        other.close()
    health = health_pb2_grpc.HealthStub(conn.channel)
    code, _ = status_of(lambda: health.Check(health_pb2.HealthCheckRequest()))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    conn.close()


def test_plaintext_connections_are_refused(guard: Guard) -> None:
    channel = grpc.insecure_channel(guard.address)
    stub = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()


def test_health_reflection_and_metrics(guard: Guard) -> None:
    conn = guard.connect("auditor")
    health = health_pb2_grpc.HealthStub(conn.channel)
    for service in ("", "guard.v1.ScreeningService", "guard.v1.CatalogService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), metadata=conn.metadata)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(conn.channel)
    replies = list(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                metadata=conn.metadata))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"guard.v1.ScreeningService", "guard.v1.CatalogService", "grpc.health.v1.Health"} <= names
    conn.close()
    screen(guard, wav_bytes(synth_music(5, 10.0), DEMO_RATE), model_id="lyra-music")
    body = urllib.request.urlopen(f"http://127.0.0.1:{guard.running.metrics_port}/metrics").read().decode()
    assert 'guard_requests_total{code="OK",method="/guard.v1.ScreeningService/Screen"} 1.0' in body
    assert 'guard_verdicts_total{model_id="lyra-music",verdict="allow"} 1.0' in body
    assert 'guard_stage_seconds_count{stage="fingerprint"} 1.0' in body
    assert "guard_request_seconds_bucket" in body


def test_catalog_get_list_page_and_retire(guard: Guard) -> None:
    for n in range(5):
        register(guard, f"w-{n}", wav_bytes(synth_music(40 + n, 15.0), DEMO_RATE))
    again = register(guard, "w-1", wav_bytes(synth_music(41, 15.0), DEMO_RATE))
    assert not again.created
    code, details = status_of(lambda: register(guard, "w-1", wav_bytes(synth_music(99, 15.0), DEMO_RATE)))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "different recording" in details
    conn = guard.connect("catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    md = conn.metadata
    assert stub.GetWork(catalog_pb2.GetWorkRequest(work_id="w-3"), metadata=md).details.title == "Title of w-3"
    code, _ = status_of(lambda: stub.GetWork(catalog_pb2.GetWorkRequest(work_id="nope"), metadata=md))
    assert code == grpc.StatusCode.NOT_FOUND
    seen, token = [], ""
    while True:
        page = stub.ListWorks(catalog_pb2.ListWorksRequest(page_size=2, page_token=token), metadata=md)
        seen += [w.details.work_id for w in page.works]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"w-{n}" for n in range(5)]
    code, _ = status_of(lambda: stub.ListWorks(catalog_pb2.ListWorksRequest(page_token="garbage!"), metadata=md))
    assert code == grpc.StatusCode.INVALID_ARGUMENT

    retired = stub.RetireWork(catalog_pb2.RetireWorkRequest(work_id="w-2", reason="rights lapsed"), metadata=md)
    assert retired.state == catalog_pb2.WORK_STATE_RETIRED and retired.retired_reason == "rights lapsed"
    assert screen(guard, wav_bytes(synth_music(42, 15.0)[: 12 * DEMO_RATE], DEMO_RATE)).verdict == \
        screening_pb2.VERDICT_ALLOW
    listed = stub.ListWorks(catalog_pb2.ListWorksRequest(), metadata=md)
    assert "w-2" not in [w.details.work_id for w in listed.works]
    with_retired = stub.ListWorks(catalog_pb2.ListWorksRequest(include_retired=True), metadata=md)
    assert "w-2" in [w.details.work_id for w in with_retired.works]
    code, details = status_of(lambda: register(guard, "w-2", wav_bytes(synth_music(42, 15.0), DEMO_RATE)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "never reused" in details
    code, details = status_of(lambda: register(guard, "bad id!", wav_bytes(synth_music(43, 15.0), DEMO_RATE)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "work_id" in details
    conn.close()


def test_index_is_persisted_and_rebuilt_from_the_database_when_stale(tmp_path, song) -> None:
    from tests.conftest import start_guard

    g = start_guard(tmp_path / "data")
    register(g, "work-1", wav_bytes(song, DEMO_RATE))
    g.running.stop(grace=1)
    assert (tmp_path / "data" / "index" / "audio.faiss").exists()
    assert (tmp_path / "data" / "index" / "landmarks.npz").exists()
    excerpt = song[10 * DEMO_RATE: 25 * DEMO_RATE]
    re_pitched = wav_bytes(librosa.effects.pitch_shift(excerpt, sr=DEMO_RATE, n_steps=1), DEMO_RATE)

    paths_before = _path_threads()
    g = start_guard(tmp_path / "data", first_id=100)
    try:
        assert [m.fingerprint for m in audio_matches(screen(g, re_pitched))] == ["landmarks"]
    finally:
        g.running.stop(grace=1)
    assert _path_threads() <= paths_before  # the screening's melody and landmark threads ended with it

    (tmp_path / "data" / "index" / "audio.json").write_text('{"catalog_digest": "stale"}')
    g = start_guard(tmp_path / "data", first_id=200)
    try:
        result = screen(g, wav_bytes(excerpt, DEMO_RATE))
        assert {m.work_id for m in result.matches} == {"work-1"}
        assert [m.fingerprint for m in audio_matches(screen(g, re_pitched))] == ["landmarks"]
        engine = create_engine(g.settings.effective_database_url)
        with Session(engine) as session:
            assert [w.work_id for w in session.exec(select(WorkRow))] == ["work-1"]
    finally:
        g.running.stop(grace=1)


def _path_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(("melody", "landmarks"))}


def _screenings(guard: Guard) -> int:
    engine = create_engine(guard.settings.effective_database_url)
    with Session(engine) as session:
        return len(session.exec(select(ScreeningRow)).all())


def _oneills_tunes(count: int) -> list[str]:
    import music21

    path = Path(music21.__file__).parent / "corpus" / "oneills1850" / "0001-0050.abc"
    return ["X:" + t for t in path.read_text(encoding="latin-1").split("\nX:")[1:]][:count]


def register_melody(guard: Guard, work_id: str, melody: bytes, filename: str, audio: bytes = b""):
    conn = guard.connect("catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    first = catalog_pb2.RegisterWorkRequest(
        work=catalog_pb2.WorkDetails(work_id=work_id, title=f"Tune {work_id}", rights_holder="Trad. arr. Example"),
        melody=catalog_pb2.MelodyFile(content=melody, filename=filename), recording_chunk=audio)
    try:
        return stub.RegisterWork(iter([first]), metadata=conn.metadata)
    finally:
        conn.close()


def screen_with_melody(guard: Guard, audio: bytes, melody: bytes, filename: str):
    conn = guard.connect("pipeline")
    stub = screening_pb2_grpc.ScreeningServiceStub(conn.channel)
    try:
        return stub.Screen(screening_pb2.ScreenRequest(
            audio=audio, generation=screening_pb2.Generation(model_id="lyra-music", consent_reference="consent-42"),
            melody=catalog_pb2.MelodyFile(content=melody, filename=filename)), metadata=conn.metadata)
    finally:
        conn.close()


def test_lead_sheet_catalog_and_a_transposed_quotation_in_the_generators_midi(guard: Guard, tmp_path) -> None:
    import music21

    tunes = _oneills_tunes(30)
    for n, tune in enumerate(tunes):
        response = register_melody(guard, f"oneill-{n}", tune.encode("latin-1"), "tune.abc")
        assert response.created and response.work.melody_notes > 0 and response.work.recording_seconds == 0
    again = register_melody(guard, "oneill-3", tunes[3].encode("latin-1"), "tune.abc")
    assert not again.created
    assert status_of(lambda: register_melody(guard, "oneill-3", tunes[4].encode("latin-1"), "tune.abc"))[0] \
        == grpc.StatusCode.ALREADY_EXISTS

    phrase = music21.converter.parse(tunes[7], format="abc").parts[0].measures(3, 10).transpose(3)
    phrase.insert(0, music21.tempo.MetronomeMark(number=150))
    phrase.write("midi", fp=str(tmp_path / "generated.mid"))
    result = screen_with_melody(guard, wav_bytes(synth_music(5, 20.0), DEMO_RATE),
                                (tmp_path / "generated.mid").read_bytes(), "generated.mid")
    melodic = [m for m in result.matches if m.kind == screening_pb2.MATCH_KIND_MELODY]
    assert [m.work_id for m in melodic] == ["oneill-7"]
    (match,) = melodic
    assert match.pitch_shift_semitones == pytest.approx(3.0, abs=0.5)
    assert match.reference_first_bar <= 4 and match.reference_last_bar >= 9
    assert sum(p.kind == "match" for p in match.note_pairs) >= 10
    assert all(p.reference.bar for p in match.note_pairs if p.HasField("reference"))
    assert result.melody_source.startswith("melody file 'generated.mid'")
    assert result.verdict == screening_pb2.VERDICT_REVIEW
    assert "review-melodic-quotation" in result.decision.determining_rules


def test_bad_melody_files_are_refused_and_nothing_is_stored(guard: Guard) -> None:
    audio = wav_bytes(synth_music(5, 10.0), DEMO_RATE)
    for content, name in ((b"MThd\x00\x00\x00\x06garbage", "x.mid"), (b"<score-partwise><part>", "x.musicxml"),
                          (b"", "empty.mid")):
        code, details = status_of(lambda: screen_with_melody(guard, audio, content, name))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details
    assert _screenings(guard) == 0
    code, details = status_of(lambda: register_melody(guard, "nothing", b"", "", b""))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_audio_without_a_melody_says_so_and_matches_no_melody(guard: Guard) -> None:
    register(guard, "work-1", wav_bytes(synth_music(21, 30.0), DEMO_RATE))
    rng = np.random.default_rng(4)
    noise = (0.3 * rng.standard_normal(10 * DEMO_RATE)).astype(np.float32)
    result = screen(guard, wav_bytes(noise, DEMO_RATE))
    assert result.melody_source == "no melody found in the audio"
    assert not result.matches


def test_a_killed_melody_worker_is_replaced_and_screening_goes_on(guard: Guard, song) -> None:
    import os
    import signal

    register(guard, "work-1", wav_bytes(song, DEMO_RATE))
    workers = guard.running._analysis_workers
    before = screen(guard, wav_bytes(song[: 12 * DEMO_RATE], DEMO_RATE))
    killed = workers.pids()
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    after = screen(guard, wav_bytes(song[: 12 * DEMO_RATE], DEMO_RATE))
    assert after.melody_source == before.melody_source
    assert [(m.work_id, m.kind) for m in after.matches] == [(m.work_id, m.kind) for m in before.matches]
    assert workers.pids() and not set(workers.pids()) & set(killed)


def test_a_screening_refused_while_its_melody_was_streaming_leaves_the_workers_clean(guard: Guard, song) -> None:
    register(guard, "work-1", wav_bytes(song, DEMO_RATE))
    excerpt = wav_bytes(song[: 20 * DEMO_RATE], DEMO_RATE)

    def melodic(result) -> list[tuple]:
        return [(m.work_id, round(m.score, 6), round(m.query_start_seconds, 3), round(m.reference_start_seconds, 3))
                for m in result.matches if m.kind == screening_pb2.MATCH_KIND_MELODY]

    before = screen(guard, excerpt)
    assert before.melody_source == "extracted from the audio" and melodic(before)
    silence = wav_bytes(np.zeros(8 * DEMO_RATE, np.float32), DEMO_RATE)  # decoded (and streamed), then refused
    rounds = len(guard.running._analysis_workers.pids()) + 1  # so that every worker serves both kinds
    for _ in range(rounds):
        code, details = status_of(lambda: screen(guard, silence))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "silent" in details
    for _ in range(rounds):
        assert melodic(screen(guard, excerpt)) == melodic(before)


def test_the_analysis_workers_warm_up_tune_is_a_melody() -> None:
    from fingerprints import melody
    from guard import _warm_extractor

    tune = melody.extract_melody(_warm_extractor._tune(), 11_025)  # what the forkserver runs on import
    assert len(tune) >= 12
