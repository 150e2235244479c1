"""`guard screen`: what a pipeline engineer runs to screen one file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToJson

from guard.cli._shared import CHUNK, connect_from
from guard.config import MIB


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             client: argparse.ArgumentParser) -> None:
    screen = commands.add_parser("screen", parents=[client], help="screen an audio file")
    screen.add_argument("file", type=Path)
    screen.add_argument("--json", action="store_true", help="print the whole response (protobuf JSON mapping)")
    screen.add_argument("--prompt", default="")
    screen.add_argument("--model-id", default="")
    screen.add_argument("--model-version", default="")
    screen.add_argument("--consent-reference", default="")
    screen.add_argument("--pipeline-id", default="guard-cli")
    screen.add_argument("--idempotency-key", default="")
    screen.add_argument("--consent-scope", default="", help="personal, commercial, research or internal")
    screen.add_argument("--melody", type=Path, default=None,
                        help="the generator's melody (MIDI or MusicXML), screened instead of one extracted from the audio")
    screen.set_defaults(run=_screen)


def _screen(args: argparse.Namespace) -> int:
    from guard.v1 import catalog_pb2, screening_pb2, screening_pb2_grpc

    try:
        data = args.file.read_bytes()
        melody = (catalog_pb2.MelodyFile(content=args.melody.read_bytes(), filename=args.melody.name)
                  if args.melody else None)
    except OSError as exc:
        print(f"guard: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    generation = screening_pb2.Generation(
        prompt=args.prompt, model_id=args.model_id, model_version=args.model_version,
        consent_reference=args.consent_reference, pipeline_id=args.pipeline_id, consent_scope=args.consent_scope,
    )
    conn = connect_from(args, "pipeline")
    stub = screening_pb2_grpc.ScreeningServiceStub(conn.channel)
    try:
        if len(data) <= 30 * MIB:
            response = stub.Screen(
                screening_pb2.ScreenRequest(audio=data, generation=generation, idempotency_key=args.idempotency_key,
                                            melody=melody),
                metadata=conn.metadata,
            )
        else:
            def chunks() -> Iterator:
                yield screening_pb2.ScreenStreamRequest(generation=generation, idempotency_key=args.idempotency_key,
                                                        melody=melody)
                for i in range(0, len(data), CHUNK):
                    yield screening_pb2.ScreenStreamRequest(audio_chunk=data[i:i + CHUNK])
            response = stub.ScreenStream(chunks(), metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: screening failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    if args.json:
        print(MessageToJson(response, preserving_proto_field_name=True))
        return 0
    verdict = screening_pb2.Verdict.Name(response.verdict).removeprefix("VERDICT_").lower()
    print(f"verdict: {verdict}   screening {response.screening_id}   {response.duration_seconds:.1f} s of audio")
    for m in response.matches:
        where = (f"bars {m.reference_first_bar}-{m.reference_last_bar}" if m.kind == screening_pb2.MATCH_KIND_MELODY
                 else f"{m.reference_start_seconds:.1f}-{m.reference_end_seconds:.1f} s")
        where += "".join(f", also {r.start_seconds:.1f}-{r.end_seconds:.1f} s" for r in m.repeats)
        change = (f", {m.pitch_shift_semitones:+.1f} st, tempo x{m.tempo_ratio:.3f}"
                  if m.pitch_shift_semitones or m.tempo_ratio not in (0.0, 1.0) else "")
        print(f"  {m.work_id} \"{m.title}\" ({m.rights_holder}): query {m.query_start_seconds:.1f}-"
              f"{m.query_end_seconds:.1f} s = reference {where}, score {m.score:.6f}{change} [{m.fingerprint}]")
    print(f"  melody: {response.melody_source}")
    timings = ", ".join(f"{t.stage} {t.milliseconds:.1f} ms" for t in response.timings)
    print(f"  stages: {timings}")
    print(f"  provenance record {response.record_id} at log index {response.log_index}")
    return 0
