"""--request-timeout answers 504 / DEADLINE_EXCEEDED; --max-concurrency bounds in-flight inferences."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import grpc
import httpx
import numpy as np

from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from tests.support.model_server import server_in_thread
from tests.support.models import python_model, write_model_yaml

# Sleeps, and records how many predicts ran at once.
SLEEPER = """
    import threading
    import time

    import numpy as np

    LOCK = threading.Lock()
    STATE = {"now": 0, "peak": 0}


    class Model:
        def predict(self, inputs):
            with LOCK:
                STATE["now"] += 1
                STATE["peak"] = max(STATE["peak"], STATE["now"])
            time.sleep(float(inputs["seconds"][0]))
            with LOCK:
                STATE["now"] -= 1
            return {"peak": np.array([STATE["peak"]])}
"""


def _body(seconds: float) -> dict[str, object]:
    return {"inputs": [{"name": "seconds", "shape": [1], "datatype": "FP32", "data": [seconds]}]}


def test_slow_inference_gets_504_and_deadline_exceeded(tmp_path: Path) -> None:
    python_model(tmp_path / "sleeper", SLEEPER)
    with server_in_thread(model_repository=tmp_path, request_timeout=0.3) as running:
        response = httpx.post(f"{running.url}/v2/models/sleeper/infer", json=_body(1.0), timeout=10)
        request = pb.ModelInferRequest(model_name="sleeper")
        tensor = request.inputs.add(name="seconds", datatype="FP32", shape=[1])
        tensor.contents.fp32_contents.append(1.0)
        with grpc.insecure_channel(running.grpc_target) as channel:
            try:
                pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
                code = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                code = exc.code()
        fast = httpx.post(f"{running.url}/v2/models/sleeper/infer", json=_body(0.0), timeout=10)
    assert response.status_code == 504
    assert "did not finish within 0.3 s" in response.json()["error"]
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert fast.status_code == 200


def test_max_concurrency_bounds_in_flight_inferences(tmp_path: Path) -> None:
    python_model(tmp_path / "sleeper", SLEEPER)
    write_model_yaml(tmp_path / "sleeper", backend="python", instances=4)
    with server_in_thread(model_repository=tmp_path, max_concurrency=1) as running:
        url = f"{running.url}/v2/models/sleeper/infer"
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(
                pool.map(lambda _: httpx.post(url, json=_body(0.2), timeout=30), range(4))
            )
    peaks = [int(np.asarray(r.json()["outputs"][0]["data"])[0]) for r in replies]
    assert all(r.status_code == 200 for r in replies)
    assert max(peaks) == 1
