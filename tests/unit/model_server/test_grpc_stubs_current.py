"""The committed gRPC stubs match grpc/proto/grpc_predict_v2.proto and tritonclient's field numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from google.protobuf import descriptor_pb2

from modelplane.v2grpc import protogen
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    protogen.generate(tmp_path)
    spec = importlib.util.spec_from_file_location(
        "fresh_pb2", tmp_path / protogen.VIRTUAL_DIR / "grpc_predict_v2_pb2.py"
    )
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)  # a private descriptor pool: no clash with the committed one
    committed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    regenerated = descriptor_pb2.FileDescriptorProto.FromString(fresh.DESCRIPTOR.serialized_pb)
    assert committed == regenerated, "stale gRPC stubs: run `make proto` and commit the result"
    grpc_module = protogen.OUT_DIR / "grpc_predict_v2_pb2_grpc.py"
    fresh_grpc = tmp_path / protogen.VIRTUAL_DIR / "grpc_predict_v2_pb2_grpc.py"
    assert _code_lines(grpc_module) == _code_lines(fresh_grpc), (
        "stale gRPC service stub: run `make proto`"
    )


def _code_lines(path: Path) -> list[str]:
    # The version guard lines differ between grpcio-tools releases; the service code must not.
    return [
        line
        for line in path.read_text().splitlines()
        if "VERSION" not in line and "version" not in line
    ]


def test_messages_match_tritonclient_field_numbers() -> None:
    from tritonclient.grpc import model_config_pb2 as triton_config
    from tritonclient.grpc import service_pb2 as triton

    def fields(descriptor: object) -> dict[str, tuple[int, int]]:
        return {f.name: (f.number, f.type) for f in descriptor.fields}  # type: ignore[attr-defined]

    for name, ours in pb.DESCRIPTOR.message_types_by_name.items():
        theirs = (
            triton.DESCRIPTOR.message_types_by_name.get(name)
            or triton_config.DESCRIPTOR.message_types_by_name[name]
        )
        assert fields(ours) == {k: v for k, v in fields(theirs).items() if k in fields(ours)}, name
        for nested in ours.nested_types:
            other = fields(theirs.nested_types_by_name[nested.name])
            assert fields(nested) == {k: v for k, v in other.items() if k in fields(nested)}, (
                f"{name}.{nested.name}"
            )
    for enum in pb.DESCRIPTOR.enum_types_by_name.values():
        their_enum = triton_config.DESCRIPTOR.enum_types_by_name[enum.name]
        assert {v.name: v.number for v in enum.values} == {
            v.name: v.number for v in their_enum.values if v.name in enum.values_by_name
        }, enum.name
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    triton_service = triton.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    for method in service.methods:
        other = triton_service.methods_by_name[method.name]
        assert method.input_type.name == other.input_type.name
        assert method.output_type.name == other.output_type.name
        assert (method.client_streaming, method.server_streaming) == (
            other.client_streaming,
            other.server_streaming,
        ), method.name
