"""The `guard` command line: the server, and the commands of catalog admins, pipeline engineers,
policy admins, auditors and legal staff. One module per audience; each registers its subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from guard.cli import catalog, disputes, policy, provenance, screen, serve
from guard.config import default_data_dir


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="data directory (default: %(default)s)")
    client = argparse.ArgumentParser(add_help=False, parents=[common])
    client.add_argument("--server", help="HOST:PORT (default: the address `guard serve` wrote in the data directory)")
    client.add_argument("--ca", type=Path, help="CA certificate to trust (default: DATA_DIR/tls/ca.pem)")
    client.add_argument("--credential", type=Path, help="file holding the bearer credential "
                        "(default: DATA_DIR/credentials/ROLE.token)")
    parser = argparse.ArgumentParser(prog="guard", description=__doc__)
    commands = parser.add_subparsers(title="commands")
    for module in (serve, catalog, screen, provenance, policy, disputes):
        module.register(commands, common, client)
    return parser
