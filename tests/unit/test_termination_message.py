"""What the model server leaves in its termination message is what the operator reads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelplane.model_server.termination import report_load_failure
from modelplane.operator.pod_reasons import pod_failure
from modelplane.termination import LIMIT_BYTES, MODEL_LOAD_PREFIX, model_load_failed


def crashed_pod(message: str, code: int = 1) -> dict[str, Any]:
    """A predictor pod whose server container exited with `message` as its termination message."""
    terminated = {"exitCode": code, "reason": "Error", "message": message, "finishedAt": "T"}
    return {
        "metadata": {"name": "iris-predictor-abc"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "kserve-container",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": terminated},
                }
            ],
        },
    }


def test_the_written_message_becomes_the_model_load_failed_reason(tmp_path: Path) -> None:
    path = tmp_path / "termination-log"
    report_load_failure({"iris": "InvalidProtobuf: [ONNXRuntimeError] bad model"}, path)
    failure = pod_failure(crashed_pod(path.read_text()))
    assert failure is not None
    assert failure.reason == "ModelLoadFailed"
    assert failure.message == "iris: InvalidProtobuf: [ONNXRuntimeError] bad model"
    assert failure.exit_code == 1
    assert failure.location == "iris-predictor-abc"


def test_every_failed_model_is_named_on_one_line() -> None:
    message = model_load_failed({"a": "first\nline two", "b": "  spaced\tout "})
    assert message == "ModelLoadFailed: a: first line two; b: spaced out"


def test_an_unusable_repository_is_said_without_a_model_name() -> None:
    message = model_load_failed({"": "model repository /mnt/models is not a directory"})
    assert message == "ModelLoadFailed: model repository /mnt/models is not a directory"


def test_a_long_reason_is_cut_to_what_kubernetes_keeps_without_splitting_a_character() -> None:
    message = model_load_failed({"m": "é" * 5000})
    data = message.encode()
    assert len(data) <= LIMIT_BYTES
    assert message.startswith(MODEL_LOAD_PREFIX + "m: éé")
    assert message.endswith("…")
    failure = pod_failure(crashed_pod(message))
    assert failure is not None and failure.reason == "ModelLoadFailed"


def test_an_unwritable_path_is_logged_not_raised(tmp_path: Path) -> None:
    message = report_load_failure({"m": "broken"}, tmp_path / "missing" / "termination-log")
    assert message == "ModelLoadFailed: m: broken"
