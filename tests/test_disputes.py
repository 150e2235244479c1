"""Disputes end to end: notices over gRPC, legal staff's command line, timers, retroactive claims, reports."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from guard.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    disputes_pb2,
    disputes_pb2_grpc,
    screening_pb2,
)
from tests.audio import DEMO_RATE, synth_music, wav_bytes
from tests.conftest import Guard, SettableClock, start_guard
from tests.test_service import register, screen

START = dt.datetime(2026, 11, 20, 15, tzinfo=dt.timezone.utc)  # a Friday; Thanksgiving follows


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
def desk(tmp_path: Path, clock: SettableClock):
    g = start_guard(tmp_path / "data", clock=clock)
    yield g
    g.running.stop(grace=1)


def stub(guard: Guard, role: str):
    conn = guard.connect(role)
    return disputes_pb2_grpc.DisputeServiceStub(conn.channel), conn.metadata, conn


def notice(**overrides) -> disputes_pb2.Notice:
    fields = dict(regime="dmca", claimant_name="Example Music Ltd", claimant_email="legal@example.com",
                  claimant_address="1 Example Street", signature="/s/ Jane Roe", work_description="Harbour Waltz",
                  work_id="work-1", good_faith_statement=True, accuracy_statement=True)
    fields.update(overrides)
    return disputes_pb2.Notice(**fields)


COUNTER = disputes_pb2.CounterNotice(
    uploader_name="Sam", uploader_address="2 Road", uploader_phone="+1 555 0100", signature="/s/ Sam",
    material_identification="the track", mistake_statement=True, jurisdiction_consent=True)


def log_size(guard: Guard) -> int:
    return guard.running.transparency_log.size


def cli(guard: Guard, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guard.cli", "disputes", *args, "--data-dir",
                           str(guard.settings.data_dir), "--server", guard.address],
                          capture_output=True, text=True, timeout=120)


def test_notice_to_restore_with_business_day_window(desk: Guard, clock: SettableClock, tmp_path: Path) -> None:
    song = synth_music(200, 40.0)
    track = screen(desk, wav_bytes(synth_music(201, 15.0), DEMO_RATE))
    register(desk, "work-1", wav_bytes(song, DEMO_RATE))
    claims, md, conn = stub(desk, "catalog")
    case = claims.FileNotice(disputes_pb2.FileNoticeRequest(notice=notice(), screening_id=track.screening_id),
                             metadata=md)
    conn.close()
    assert case.state == "received" and not case.missing_elements and len(case.events) == 1

    before = log_size(desk)
    for action, reason in [("accept", ""), ("disable", ""), ("notify_uploader", "Reproduces Harbour Waltz.")]:
        done = cli(desk, "act", case.case_id, action, "--reason", reason)
        assert done.returncode == 0, done.stderr
    assert log_size(desk) == before + 3
    pipeline, md, conn = stub(desk, "pipeline")
    countered = pipeline.FileCounterNotice(disputes_pb2.FileCounterNoticeRequest(
        case_id=case.case_id, counter_notice=COUNTER), metadata=md)
    with pytest.raises(grpc.RpcError) as denied:
        pipeline.Act(disputes_pb2.ActRequest(case_id=case.case_id, action="forward"), metadata=md)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    conn.close()
    assert countered.state == "countered"
    forwarded = json.loads(cli(desk, "act", case.case_id, "forward", "--json").stdout)
    assert forwarded["restore_not_before"] == "2026-12-07" and forwarded["restore_not_after"] == "2026-12-11"

    clock.now = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)  # business day 9
    early = cli(desk, "act", case.case_id, "restore", "--reason", "counter-notice")
    assert early.returncode == 1 and "FAILED_PRECONDITION" in early.stderr and "2026-12-07" in early.stderr
    due = cli(desk, "due")
    assert f"2026-12-07  {case.case_id}" in due.stdout and "restore" in due.stdout
    assert desk.running.desk.run_due(_robot()) == []
    clock.now = dt.datetime(2026, 12, 7, 9, tzinfo=dt.timezone.utc)
    assert desk.running.desk.run_due(_robot()) == [case.case_id]
    shown = cli(desk, "show", case.case_id)
    assert "RESTORED" in shown.stdout and "by guard (automated)" in shown.stdout
    events = json.loads(cli(desk, "show", case.case_id, "--json").stdout)["events"]
    for before_event, after_event in zip(events, events[1:]):
        assert after_event["previous_hash"] == before_event["hash"]
    assert len({e["log_index"] for e in events}) == len(events)


def _robot():
    import takedown
    return takedown.Actor("automated", "guard", policy_version="guard-default@1", model_version="test")


def test_incomplete_notices_list_what_is_missing(desk: Guard) -> None:
    track = screen(desk, wav_bytes(synth_music(210, 12.0), DEMO_RATE))
    claims, md, conn = stub(desk, "catalog")
    case = claims.FileNotice(disputes_pb2.FileNoticeRequest(
        notice=notice(signature="", claimant_email="not-an-email"), screening_id=track.screening_id), metadata=md)
    assert case.state == "incomplete"
    assert any("(A)(i)" in m for m in case.missing_elements) and any("(A)(iv)" in m for m in case.missing_elements)
    with pytest.raises(grpc.RpcError) as unknown:
        claims.FileNotice(disputes_pb2.FileNoticeRequest(notice=notice(), screening_id="scr_nope"), metadata=md)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    conn.close()
    listed = json.loads(cli(desk, "list", "--state", "incomplete", "--json").stdout)
    assert [c["case_id"] for c in listed] == [case.case_id]


def test_a_new_work_opens_retroactive_cases_for_cleared_tracks(desk: Guard, tmp_path: Path) -> None:
    song = synth_music(220, 60.0)
    copied = screen(desk, wav_bytes(song[10 * DEMO_RATE: 30 * DEMO_RATE], DEMO_RATE))
    clean = screen(desk, wav_bytes(synth_music(221, 20.0), DEMO_RATE))
    assert copied.verdict == clean.verdict == screening_pb2.VERDICT_ALLOW
    register(desk, "work-late", wav_bytes(song, DEMO_RATE))
    conn = desk.connect("catalog")
    works = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    for _ in range(100):
        work = works.GetWork(catalog_pb2.GetWorkRequest(work_id="work-late"), metadata=conn.metadata)
        if work.retroactive_scan.state == "done":
            break
        time.sleep(0.1)
    conn.close()
    assert (work.retroactive_scan.total, work.retroactive_scan.checked, work.retroactive_scan.cases_opened) == (2, 2, 1)
    cases = json.loads(cli(desk, "list", "--work", "work-late", "--json").stdout)
    assert [c["track_id"] for c in cases] == [copied.screening_id]
    assert cases[0]["origin"] == "retroactive"
    evidence = json.loads(cases[0]["evidence"])[0]
    assert evidence["reference_start_seconds"] == pytest.approx(10.0, abs=1.0)


def test_evidence_report_renders_with_audio_and_melody_evidence(desk: Guard, tmp_path: Path) -> None:
    song = synth_music(230, 40.0)
    register(desk, "work-1", wav_bytes(song, DEMO_RATE))
    track = screen(desk, wav_bytes(song[5 * DEMO_RATE: 25 * DEMO_RATE], DEMO_RATE))
    claims, md, conn = stub(desk, "catalog")
    case = claims.FileNotice(disputes_pb2.FileNoticeRequest(notice=notice(), screening_id=track.screening_id),
                             metadata=md)
    conn.close()
    cli(desk, "act", case.case_id, "accept")
    made = cli(desk, "report", case.case_id, "--out", str(tmp_path / "reports"))
    assert made.returncode == 0, made.stderr
    page = (tmp_path / "reports" / f"{case.case_id}.html").read_text()
    data = json.loads((tmp_path / "reports" / f"{case.case_id}.json").read_text())
    assert data["audio_evidence"][0]["work_id"] == "work-1"
    assert all(c["ok"] for c in data["provenance_verification"])
    assert data["policy_decision"]["decision"] == "block"
    assert [e["action"] for e in data["events"]] == ["open", "accept"]
    (melodic,) = data["melody_evidence"]
    assert melodic["work_id"] == "work-1" and melodic["reference_bars"][1] >= melodic["reference_bars"][0]
    assert len(melodic["pairs"]) >= 8
    assert abs(melodic["transposition"]) < 0.5
    assert page.count("<img") == 2
    assert _images_load_in_chromium(tmp_path / "reports" / f"{case.case_id}.html") == [True, True]


def _images_load_in_chromium(page: Path) -> list[bool]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (scripts/_install.sh installs Debian's chromium)")
    probe = page.with_suffix(".probe.html")
    probe.write_text(page.read_text().replace(
        "</body>", "<script>window.addEventListener('load',()=>{document.body.setAttribute('data-images',"
                   "[...document.images].map(i=>i.complete&&i.naturalWidth>0).join(','))})</script></body>"))
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         f"--user-data-dir={page.parent / 'chromium-profile'}", "--virtual-time-budget=5000", "--dump-dom",
         probe.as_uri()], capture_output=True, text=True, timeout=120)
    marker = 'data-images="'
    assert marker in out.stdout, out.stderr[-2000:]
    flags = out.stdout.split(marker, 1)[1].split('"', 1)[0]
    return [flag == "true" for flag in flags.split(",")]


def test_statements_of_reasons_export(desk: Guard) -> None:
    song = synth_music(240, 30.0)
    register(desk, "work-1", wav_bytes(song, DEMO_RATE))
    track = screen(desk, wav_bytes(song[: 15 * DEMO_RATE], DEMO_RATE))
    claims, md, conn = stub(desk, "catalog")
    case = claims.FileNotice(disputes_pb2.FileNoticeRequest(notice=notice(regime="dsa",
                             explanation="The track reproduces our registered recording verbatim."),
                             screening_id=track.screening_id), metadata=md)
    conn.close()
    cli(desk, "act", case.case_id, "accept")
    cli(desk, "act", case.case_id, "disable")
    out = cli(desk, "export-sor", "--territory", "DE", "FR")
    statements = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(statements) == 1
    sor = statements[0]
    assert sor["puid"] == case.case_id and sor["source_type"] == "SOURCE_ARTICLE_16"
    assert sor["category"] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    assert sor["territorial_scope"] == ["DE", "FR"] and "CONTENT_TYPE_AUDIO" in sor["content_type"]


def test_a_case_history_verifies_offline_and_tampering_is_caught(desk: Guard, tmp_path: Path) -> None:
    from guard.provenance.bundle import HistoryBundle
    from guard.provenance.verify import verify_history

    track = screen(desk, wav_bytes(synth_music(250, 12.0), DEMO_RATE))
    claims, md, conn = stub(desk, "catalog")
    case = claims.FileNotice(disputes_pb2.FileNoticeRequest(notice=notice(), screening_id=track.screening_id),
                             metadata=md)
    conn.close()
    for action in ("accept", "disable"):
        cli(desk, "act", case.case_id, action)
    out = tmp_path / "history.json"
    assert cli(desk, "export", case.case_id, "--out", str(out)).returncode == 0
    keyring = tmp_path / "keyring.json"
    keyring.write_text(desk.running.transparency_log.keyring().to_json())
    audited = subprocess.run([sys.executable, "-m", "guard.cli", "audit", "verify", str(out), "--keyring",
                              str(keyring), "--state", str(tmp_path / "state.json")],
                             capture_output=True, text=True, timeout=60)
    assert audited.returncode == 0, audited.stdout
    assert "3 events chained from 'open'" in audited.stdout

    history = HistoryBundle.from_json(out.read_text())
    ring = desk.running.transparency_log.keyring()
    dropped = HistoryBundle(history.case_id, (history.events[0], history.events[2]), history.tree_size,
                            history.checkpoint, ring)
    assert "chain" in {c.name for c in verify_history(dropped, ring).checks if not c.ok}
    swapped = HistoryBundle(history.case_id, (history.events[1], history.events[0], history.events[2]),
                            history.tree_size, history.checkpoint, ring)
    assert not verify_history(swapped, ring).ok
    edited = history.events[1].payload.replace(b'"accept"', b'"reject"')
    forged = HistoryBundle(history.case_id, (history.events[0], history.events[1].__class__(
        edited, history.events[1].log_index, history.events[1].leaf, history.events[1].inclusion_proof),
        history.events[2]), history.tree_size, history.checkpoint, ring)
    assert not verify_history(forged, ring).ok
