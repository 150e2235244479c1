"""Generated gRPC stubs for the guard.v1 contract; regenerate with scripts/gen-protos, never edit."""
