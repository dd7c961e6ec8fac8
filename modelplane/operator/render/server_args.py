"""Command-line flags of `modelplane serve` derived from a predictor spec (pure)."""

from __future__ import annotations

from modelplane.api import PredictorSpec

NAME_PLACEHOLDER = "{{.Name}}"
EXIT_ON_LOAD_FAILURE = "--exit-on-load-failure"
TERMINATION_MESSAGE_PATH = "--termination-message-path"


def substitute(arg: str, isvc_name: str) -> str:
    """A runtime argument with KServe's `{{.Name}}` replaced by the InferenceService name."""
    return arg.replace(NAME_PLACEHOLDER, isvc_name)


def model_flags(runtime_args: list[str], isvc_name: str, model_dir: str) -> list[str]:
    """`--model-name` and `--model-dir`, unless the runtime serves a whole repository.

    Appended after the runtime's own arguments (the server's parser keeps the last value),
    and left out when the runtime already passes the same value.
    """
    if any(arg.startswith("--model-repository") for arg in runtime_args):
        return []
    flags = [f"--model-name={isvc_name}", f"--model-dir={model_dir}"]
    return [flag for flag in flags if flag not in runtime_args]


def tuning_flags(predictor: PredictorSpec) -> list[str]:
    """Batching, concurrency and timeout flags from the predictor's fields.

    batcher.maxLatency is in milliseconds (KServe); the server takes microseconds.
    """
    flags: list[str] = []
    batcher = predictor.batcher
    if batcher is not None:
        if batcher.max_batch_size is not None:
            flags.append(f"--max-batch-size={batcher.max_batch_size}")
        if batcher.max_latency is not None:
            flags.append(f"--max-queue-delay-us={batcher.max_latency * 1000}")
    if predictor.container_concurrency is not None:
        flags.append(f"--max-concurrency={predictor.container_concurrency}")
    timeout = predictor.timeout or (batcher.timeout if batcher is not None else None)
    if timeout is not None:
        flags.append(f"--request-timeout={timeout}")
    return flags


def load_failure_flags(runtime_args: list[str], termination_message_path: str | None) -> list[str]:
    """`--exit-on-load-failure`, so a model that cannot load crash-loops with its reason.

    The server writes the reason to the container's termination message file, which the
    operator reads back from the pod (pod_reasons); a runtime that moves the file
    (`terminationMessagePath`) has the server told where.
    """
    flags = [] if EXIT_ON_LOAD_FAILURE in runtime_args else [EXIT_ON_LOAD_FAILURE]
    if termination_message_path and not any(
        arg.startswith(TERMINATION_MESSAGE_PATH) for arg in runtime_args
    ):
        flags.append(f"{TERMINATION_MESSAGE_PATH}={termination_message_path}")
    return flags
