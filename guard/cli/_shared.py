"""What every client command shares: the parent options and a connection built from them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import grpc

from guard.client import Connection, connect
from guard.config import MIB

CHUNK = MIB
"""Upload chunk size for streamed files."""


def connect_from(args: argparse.Namespace, role: str) -> Connection:
    return connect(args.data_dir, role, server=args.server, ca_file=args.ca, token_file=args.credential)



def rpc(args: argparse.Namespace, role: str, stub_type: Callable[[grpc.Channel], object], method: str,
        request: object) -> Any:
    """One call as `role`; on failure print the status and details for the user and return None."""
    conn = connect_from(args, role)
    try:
        return getattr(stub_type(conn.channel), method)(request, metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return None
    finally:
        conn.close()
