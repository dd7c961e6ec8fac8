"""Start a grpc.aio server for a V2 servicer: the one way both the model server and the router
listen (message limits, a taken port reported as OSError)."""

from __future__ import annotations

from typing import Any

import grpc

from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc


async def serve(
    servicer: Any, host: str, port: int, max_request_size: int, reuse_port: bool = False
) -> tuple[Any, int]:
    """Start `servicer` on host:port (0 picks a free port); (server, the port bound).

    `reuse_port`: sibling worker processes share the port (SO_REUSEPORT).
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_request_size),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", int(reuse_port)),
        ]
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    address = f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # grpc reports a taken port this way
        bound = 0
    if bound == 0:
        raise OSError(f"gRPC server could not listen on {address}")
    await server.start()
    return server, bound
