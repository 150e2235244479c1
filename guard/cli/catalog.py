"""`guard catalog`: catalog admins register works from manifests and list them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict
from tqdm import tqdm

from guard.cli._shared import CHUNK, connect_from

_RESERVED = {"work_id", "title", "rights_holder", "audio", "melody", "isrc", "iswc", "rights_holder_flags"}
"""Manifest fields with a place of their own; every other field is kept as metadata."""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             client: argparse.ArgumentParser) -> None:
    catalog = commands.add_parser("catalog", help="catalog admin commands").add_subparsers(title="catalog commands")
    imp = catalog.add_parser("import", parents=[client], help="register works from a JSON-lines manifest")
    imp.add_argument("manifest", type=Path)
    imp.set_defaults(run=_catalog_import)
    lst = catalog.add_parser("list", parents=[client], help="list registered works")
    lst.add_argument("--include-retired", action="store_true")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_catalog_list)


@dataclass
class _ImportFailure:
    line: int
    work_id: str
    reason: str


def _catalog_import(args: argparse.Namespace) -> int:
    from guard.v1 import catalog_pb2, catalog_pb2_grpc

    try:
        lines = args.manifest.read_text().splitlines()
    except OSError as exc:
        print(f"guard: cannot read {args.manifest}: {exc.strerror}", file=sys.stderr)
        return 2
    base = args.manifest.parent
    conn = connect_from(args, "catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    created = present = 0
    failures: list[_ImportFailure] = []
    entries = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    for number, line in tqdm(entries, desc="importing", unit="work", file=sys.stderr):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("each line must be a JSON object")
            missing = [k for k in ("work_id", "title", "rights_holder") if not entry.get(k)]
            if not entry.get("audio") and not entry.get("melody"):
                missing.append("audio or melody")
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            details = catalog_pb2.WorkDetails(
                work_id=str(entry["work_id"]), title=str(entry["title"]), rights_holder=str(entry["rights_holder"]),
                isrc=str(entry.get("isrc", "")), iswc=str(entry.get("iswc", "")),
                rights_holder_flags=[str(f) for f in entry.get("rights_holder_flags", [])],
                metadata={k: v if isinstance(v, str) else json.dumps(v)
                          for k, v in entry.items() if k not in _RESERVED},
            )
            audio_path = base / str(entry["audio"]) if entry.get("audio") else None
            melody_path = base / str(entry["melody"]) if entry.get("melody") else None
            response = stub.RegisterWork(_upload(details, audio_path, melody_path), metadata=conn.metadata)
            created += response.created
            present += not response.created
        except (ValueError, OSError) as exc:
            failures.append(_ImportFailure(number, _work_id(line), str(exc)))
        except grpc.RpcError as exc:
            failures.append(_ImportFailure(number, _work_id(line), f"{exc.code().name}: {exc.details()}"))
    conn.close()
    print(f"imported {created + present} of {len(entries)} works "
          f"({created} new, {present} already registered), {len(failures)} failed")
    for failure in failures:
        print(f"  line {failure.line} ({failure.work_id or 'no work_id'}): {failure.reason}")
    return 1 if failures else 0


def _work_id(line: str) -> str:
    try:
        return str(json.loads(line).get("work_id", ""))
    except (ValueError, AttributeError):
        return ""


def _upload(details, audio: Path | None, melody: Path | None) -> Iterator:
    """The work's details and melody file in the first message, then the recording in chunks."""
    from guard.v1 import catalog_pb2

    first = catalog_pb2.RegisterWorkRequest(work=details)
    if melody is not None:
        first.melody.CopyFrom(catalog_pb2.MelodyFile(content=melody.read_bytes(), filename=melody.name))
    if audio is None:
        yield first
        return
    with audio.open("rb") as handle:
        first.recording_chunk = handle.read(CHUNK)
        yield first
        while chunk := handle.read(CHUNK):
            yield catalog_pb2.RegisterWorkRequest(recording_chunk=chunk)


def _catalog_list(args: argparse.Namespace) -> int:
    from guard.v1 import catalog_pb2, catalog_pb2_grpc

    conn = connect_from(args, "catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    works, token = [], ""
    while True:
        page = stub.ListWorks(
            catalog_pb2.ListWorksRequest(page_size=500, page_token=token, include_retired=args.include_retired),
            metadata=conn.metadata,
        )
        works.extend(page.works)
        token = page.next_page_token
        if not token:
            break
    conn.close()
    if args.json:
        print(json.dumps([MessageToDict(w, preserving_proto_field_name=True) for w in works], indent=2))
        return 0
    print(f"{'WORK ID':<24} {'STATE':<8} {'SECONDS':>8}  {'RIGHTS HOLDER':<24} TITLE")
    for w in works:
        state = "active" if w.state == catalog_pb2.WORK_STATE_ACTIVE else "retired"
        print(f"{w.details.work_id:<24} {state:<8} {w.recording_seconds:>8.1f}  "
              f"{w.details.rights_holder[:24]:<24} {w.details.title}")
    print(f"{len(works)} works")
    return 0
