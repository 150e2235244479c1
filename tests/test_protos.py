"""The committed stubs are exactly what scripts/gen-protos makes from protos/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_stubs_are_up_to_date(tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "gen-protos"), str(tmp_path)], check=True,
                   env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    generated = sorted(p.name for p in (tmp_path / "guard" / "v1").iterdir())
    assert generated, "gen-protos produced nothing"
    for name in generated:
        fresh = (tmp_path / "guard" / "v1" / name).read_bytes()
        committed = (ROOT / "guard" / "v1" / name).read_bytes()
        assert fresh == committed, f"guard/v1/{name} is stale: run scripts/gen-protos"


def test_domain_packages_never_import_guard_or_grpc() -> None:
    for package in ("fingerprints", "policies", "takedown"):
        for source in (ROOT / package).rglob("*.py"):
            text = source.read_text()
            for forbidden in ("import guard", "from guard", "import grpc", "from grpc"):
                assert forbidden not in text, f"{source.relative_to(ROOT)} uses '{forbidden}'"
