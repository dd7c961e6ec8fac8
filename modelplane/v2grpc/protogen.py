"""Generate the committed gRPC stubs from grpc/proto (run by `make proto`; checked by a test)."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO_DIR = PACKAGE_DIR / "proto"
OUT_DIR = PACKAGE_DIR / "generated"
PROTO_NAME = "grpc_predict_v2.proto"
# The import path the generated modules use for each other.
VIRTUAL_DIR = "modelplane/v2grpc/generated"
# tritonclient registers the same `inference.*` names in protobuf's default pool;
# a private pool lets the server and that client live in one process.
_DEFAULT_POOL = "_descriptor_pool.Default().AddSerializedFile("
_PRIVATE_POOL = "_descriptor_pool.DescriptorPool().AddSerializedFile("


def protoc_args(out_root: Path, descriptor_set: Path | None = None) -> list[str]:
    """Arguments for grpc_tools.protoc generating into `out_root` (the repository root)."""
    args = [
        "grpc_tools.protoc",
        f"-I{VIRTUAL_DIR}={PROTO_DIR}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
    ]
    if descriptor_set is not None:
        args.append(f"--descriptor_set_out={descriptor_set}")
    return [*args, f"{VIRTUAL_DIR}/{PROTO_NAME}"]


def generate(out_root: Path, descriptor_set: Path | None = None) -> None:
    """Run protoc, then move the messages into a private descriptor pool."""
    from grpc_tools import protoc

    code = protoc.main(protoc_args(out_root, descriptor_set))
    if code != 0:
        raise RuntimeError(f"protoc failed with {code}")
    pb2 = out_root / VIRTUAL_DIR / "grpc_predict_v2_pb2.py"
    text = pb2.read_text()
    if _DEFAULT_POOL not in text:
        raise RuntimeError(f"{pb2}: generated code changed shape; cannot use a private pool")
    pb2.write_text(text.replace(_DEFAULT_POOL, _PRIVATE_POOL))


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
