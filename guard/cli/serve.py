"""`guard serve`: the gRPC service on this machine."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from guard.config import MIB, Limits, Settings


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             client: argparse.ArgumentParser) -> None:
    serve = commands.add_parser("serve", parents=[common], help="run the gRPC service")
    serve.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to listen on (default: %(default)s)")
    serve.add_argument("--database-url", help="SQLAlchemy URL, e.g. postgresql://user@host/db "
                       "(default: SQLite in the data directory; env GUARD_DATABASE_URL)")
    serve.add_argument("--metrics-listen", default="127.0.0.1:9464",
                       help="HOST:PORT for the Prometheus endpoint, or 'off' (default: %(default)s)")
    serve.add_argument("--max-request-mib", type=int, default=32, help="largest unary request (default: %(default)s)")
    serve.add_argument("--max-audio-seconds", type=float, default=900.0,
                       help="longest accepted audio (default: %(default)s)")
    serve.add_argument("--prompt-key-file", type=Path, help="32-byte AES key for prompts at rest "
                       "(default: DATA_DIR/keys/prompt.key; env GUARD_PROMPT_KEY_FILE)")
    serve.add_argument("--workers", type=int, default=8, help="concurrent RPCs (default: %(default)s)")
    serve.add_argument("--analysis-processes", type=int, help="worker processes analysing audio as it is decoded "
                       "(melody, landmark spectrogram; default: one a core, at most 4)")
    serve.add_argument("--jurisdiction", default="US", help="country whose public holidays count against statutory "
                       "business days (default: %(default)s)")
    serve.add_argument("--subdivision", help="state or region for the holiday calendar, e.g. BY for Bavaria")
    serve.add_argument("--appeal-business-days", type=int, default=10,
                       help="how long a claimant has to pursue an appeal (default: %(default)s)")
    serve.add_argument("--demo-catalog", action="store_true", help="register the synthetic demo works first")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from guard import server
    from guard.observability import configure_logging

    configure_logging()
    settings = Settings(
        data_dir=args.data_dir,
        listen=args.listen,
        database_url=args.database_url or os.environ.get("GUARD_DATABASE_URL"),
        metrics_listen=None if args.metrics_listen == "off" else args.metrics_listen,
        workers=args.workers,
        analysis_processes=args.analysis_processes,
        jurisdiction=args.jurisdiction,
        subdivision=args.subdivision,
        appeal_business_days=args.appeal_business_days,
        prompt_key_file=args.prompt_key_file or _env_path("GUARD_PROMPT_KEY_FILE"),
        limits=Limits(max_request_bytes=args.max_request_mib * MIB, max_audio_seconds=args.max_audio_seconds),
    )
    stopping = server.stop_on_signals()
    running = server.start(settings)
    if args.demo_catalog:
        from guard.demo import install_demo

        queries = install_demo(running.catalog, settings.data_dir / "demo")
        guard_bin = Path(sys.argv[0]).resolve()
        print(f"\nguard is serving on {settings.listen} (TLS) with a demo catalog of 3 works.", file=sys.stderr)
        print("In another terminal, screen a file against it (the first is blocked, the second allowed):",
              file=sys.stderr)
        for path in queries:
            print(f"  {guard_bin} screen --data-dir {settings.data_dir} --consent-reference demo-consent {path}",
                  file=sys.stderr)
        print(file=sys.stderr)
    stopping.wait()
    running.stop(settings.shutdown_grace_seconds)
    return 0


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
