"""The real-pod tier's setup: the chart, the samples as a test applies them.

Everything a user would do, in order: `helm install` the chart (default images, imported into
the node's containerd), provide the storage the samples read (a hostPath PersistentVolume for
`pvc://`, and the S3 and HTTP servers of `e2e.tier_storage` for the storage initializer, an
image with the custom container's and transformer's files baked in), `kubectl apply` every
sample, and wait for each to become Ready.

Test model servers ask for small CPU requests (the node has 2 cores for a dozen pods): a test
overlay on the samples and the chart's defaults, not a weaker default.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from e2e import sample_models
from e2e.tier_storage import S3_SECRET, storage_objects
from tests.support import controlplane, derived_image, node_images, node_plan
from tests.support.node_cluster import RealCluster
from tools.images.build import Result

SAMPLES = Path(__file__).resolve().parents[1] / "manifests" / "samples"
CHART = Path(__file__).resolve().parents[1] / "charts" / "modelplane"
RELEASE = "modelplane"
DOMAIN = "models.test"
SAMPLES_IMAGE = "modelplane/model-server-samples:test"
TEST_CPU_REQUEST = "25m"
# Samples whose pods need a GPU: applied too, and must say why they are not scheduled.
GPU_SAMPLES = ("resnet-onnx-gpu", "resnet-onnx-mig")


@dataclass
class Tier:
    """The installed chart and applied samples."""

    cluster: RealCluster
    system: str
    namespace: str
    s3_endpoint: str
    http_base: str
    applied_at: float = 0.0
    ready_after: dict[str, float] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> path -> summary

    def record(self, name: str, path: str, answer: dict[str, Any]) -> None:
        """Remember what a sample answered through one path (for docs/e2e.md)."""
        self.answers.setdefault(name, {})[path] = summarize(answer)

    def write_report(self) -> None:
        """`$MODELPLANE_CACHE/reports/real-tier.json`: seconds to Ready and the answers;
        `python -m e2e.report` renders it into docs/e2e.md."""
        if not self.ready_after:
            return
        path = controlplane.cache_dir() / "reports" / "real-tier.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        kinds = {d["metadata"]["name"]: d["kind"] for d in sample_documents()}
        report = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "samples": {
                name: {
                    "kind": kinds.get(name, "InferenceService"),
                    "ready_seconds": round(seconds, 1),
                    "answers": self.answers.get(name, {}),
                }
                for name, seconds in sorted(self.ready_after.items())
            },
        }
        path.write_text(json.dumps(report, indent=2))


def summarize(answer: dict[str, Any]) -> str:
    """A V2 answer in a table cell: each output's name and first values."""
    parts = []
    for output in answer.get("outputs", []):
        data = output.get("data", [])
        shown = [round(v, 3) if isinstance(v, float) else v for v in data[:3]]
        parts.append(f"{output['name']}={shown}{'…' if len(data) > 3 else ''}")
    return "; ".join(parts)


def sample_documents() -> list[dict[str, Any]]:
    """Every sample manifest as it is in manifests/samples/."""
    docs = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


BROKEN = "iris-broken"  # an InferenceService whose model file is cut in half
# InferenceServices that fail in the other ways a user meets, each with the reason (and a
# piece of the message) its status must give: (name, reason, in the message)
NO_IMAGE_REF = "modelplane/not-built:0"  # no registry has it; the mirror is a closed port
S3_DOWN_SECRET = "s3-down"  # its S3_ENDPOINT is a closed port on the test storage address
FAILING = {
    "iris-no-image": ("ImagePullBackOff", NO_IMAGE_REF),
    "iris-crash": ("CrashLoopBackOff", "exited with code 3"),
    "iris-s3-down": ("StorageInitializerFailed", "exited with code"),
}


def extra_documents(tier: Tier) -> list[dict[str, Any]]:
    """More InferenceServices than the samples: two whose model the storage initializer
    really downloads (S3, HTTP), and one whose model cannot load, which must say so."""

    def isvc(name: str, uri: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if annotations:
            meta["annotations"] = annotations
        return {
            "apiVersion": "serving.modelplane.io/v1beta1",
            "kind": "InferenceService",
            "metadata": meta,
            "spec": {"predictor": {"model": {"modelFormat": {"name": "onnx"}, "storageUri": uri}}},
        }

    return [
        isvc(
            "iris-s3",
            f"s3://{sample_models.BUCKET}/iris-onnx",
            {"serving.modelplane.io/storage-secret": S3_SECRET},
        ),
        isvc("iris-http", f"{tier.http_base}/iris-onnx/model.onnx"),
        isvc(BROKEN, f"pvc://models/{BROKEN}"),
        *failing_documents(tier),
    ]


def failing_documents(tier: Tier) -> list[dict[str, Any]]:
    """The InferenceServices of FAILING, and the Secret that points one at a dead endpoint."""

    def custom(name: str, image: str, command: list[str]) -> dict[str, Any]:
        container = {"name": "model-server", "image": image, "command": command}
        return {
            "apiVersion": "serving.modelplane.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name},
            "spec": {"predictor": {"containers": [container]}},
        }

    host = tier.s3_endpoint.split("://", 1)[1].rsplit(":", 1)[0]
    down = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": S3_DOWN_SECRET},
        "stringData": {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "S3_ENDPOINT": f"http://{host}:1",  # nothing listens there
        },
    }
    s3_down = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": "iris-s3-down",
            "annotations": {"serving.modelplane.io/storage-secret": S3_DOWN_SECRET},
        },
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "onnx"},
                    "storageUri": f"s3://{sample_models.BUCKET}/iris-onnx",
                }
            }
        },
    }
    return [
        custom("iris-no-image", NO_IMAGE_REF, ["modelplane", "serve"]),
        custom("iris-crash", SAMPLES_IMAGE, ["sh", "-c", "echo config is missing >&2; exit 3"]),
        down,
        s3_down,
    ]


def write_broken_model(claim: Path) -> None:
    """The classifier's model.onnx cut in half, where the broken InferenceService reads it."""
    whole = (claim / "iris-onnx" / "model.onnx").read_bytes()
    (claim / BROKEN).mkdir(exist_ok=True)
    (claim / BROKEN / "model.onnx").write_bytes(whole[: len(whole) // 2])


def _small_requests(resources: dict[str, Any]) -> None:
    requests = resources.setdefault("requests", {})
    requests["cpu"] = TEST_CPU_REQUEST
    requests.setdefault("memory", "64Mi")
    limits = resources.get("limits", {})
    if "memory" in limits:
        requests["memory"] = "64Mi"


def test_overlay(doc: dict[str, Any]) -> dict[str, Any]:
    """A sample as the tier applies it: small CPU requests; the custom container and the
    transformer on the image that has their files baked in. GPU samples stay as they are."""
    doc = copy.deepcopy(doc)
    if doc["metadata"]["name"] in GPU_SAMPLES or doc["kind"] != "InferenceService":
        return doc
    for component in ("predictor", "transformer"):
        spec = doc["spec"].get(component)
        if not spec:
            continue
        model = spec.get("model")
        if model is not None:
            _small_requests(model.setdefault("resources", {}))
        for container in spec.get("containers") or []:
            _small_requests(container.setdefault("resources", {}))
            if container.get("image", "").startswith("modelplane/model-server:"):
                container["image"] = SAMPLES_IMAGE
    return doc


def chart_values(s3_endpoint: str, gateway: bool = False) -> dict[str, Any]:
    """The tier's chart values; with `gateway`, the node's Gateway (HTTPRoutes, not Ingresses)."""
    small = {"requests": {"cpu": TEST_CPU_REQUEST, "memory": "64Mi"}}
    config: dict[str, Any] = {
        "ingressDomain": DOMAIN,
        "ingressClass": node_plan.INGRESS_CLASS,
        # Traefik (Ingresses and the Gateway) as the operator's pod reaches it: Ready waits
        # until it routes the host
        "ingressProbeUrl": f"http://{node_plan.INGRESS_IP}:{node_plan.INGRESS_PORT}",
        "storageS3Endpoint": s3_endpoint,
        "defaultResources": {**small, "limits": {"cpu": "1", "memory": "2Gi"}},
        "routerResources": {**small, "limits": {"cpu": "1", "memory": "512Mi"}},
        "storageInitializerResources": {**small, "limits": {"cpu": "1", "memory": "1Gi"}},
    }
    if gateway:
        config["gateway"] = {
            "name": node_plan.GATEWAY_NAME,
            "namespace": node_plan.GATEWAY_NAMESPACE,
        }
    return {"config": config}


SYSTEM_NAMESPACE = "modelplane-system"


def install(
    cluster: RealCluster,
    namespace: str,
    claim_dir: Path,
    work: Path,
    s3_endpoint: str,
    gateway: bool = False,
) -> None:
    """What a user does before applying InferenceServices: `helm upgrade --install` the chart
    (default images, the tier's values; routes on the node's Gateway with `gateway`) into
    SYSTEM_NAMESPACE, and the storage the samples read in `namespace`. Idempotent, so a
    reused cluster takes it again (and an install switches the operator's mode)."""
    cluster.kubectl("create", "namespace", namespace, check=False)
    install_chart(cluster, work, s3_endpoint, gateway)
    storage = storage_objects(namespace, claim_dir)
    cluster.kubectl("apply", "-f", "-", input=json.dumps(storage))


def install_chart(
    cluster: RealCluster, work: Path, s3_endpoint: str, gateway: bool = False
) -> None:
    """`helm upgrade --install` the chart with the tier's values (Gateway mode or not) into
    SYSTEM_NAMESPACE, waiting for the operator."""
    cluster.kubectl("create", "namespace", SYSTEM_NAMESPACE, check=False)
    values = work / "values.yaml"
    values.write_text(yaml.safe_dump(chart_values(s3_endpoint, gateway)))
    cluster.helm(
        "upgrade", "--install", RELEASE, str(CHART), "-n", SYSTEM_NAMESPACE,
        "-f", str(values), "--wait", "--timeout", "180s",
    )  # fmt: skip


def build_samples_image(
    cluster: RealCluster, base: Result, models: sample_models.SampleModels, work: Path
) -> None:
    """The model-server image plus the custom container's and transformer's files."""
    image = derived_image.derive(
        base,
        SAMPLES_IMAGE,
        {"/mnt/models": models.claim / "iris-onnx", "/opt/transformer": models.transformer},
        work,
    )
    node_images.import_images(cluster, {"model-server-samples": image})


def ready_condition(item: dict[str, Any]) -> dict[str, Any]:
    conditions = (item.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), {})


def labelled(
    cluster: RealCluster, kind: str, namespace: str, selector: str
) -> list[dict[str, Any]]:
    """The objects of `kind` in `namespace` matching a label selector, as kubectl reads them."""
    found = json.loads(
        cluster.kubectl("get", kind, "-n", namespace, "-l", selector, "-o", "json").stdout
    )
    items: list[dict[str, Any]] = found["items"]
    return items


def listed(cluster: RealCluster, namespace: str) -> dict[str, dict[str, Any]]:
    items = json.loads(cluster.kubectl("get", "isvc,ig", "-n", namespace, "-o", "json").stdout)
    return {item["metadata"]["name"]: item for item in items["items"]}


def zero_isvc(name: str, namespace: str, idle_seconds: int) -> dict[str, Any]:
    """The iris classifier with minReplicas 0 (scale to zero after `idle_seconds`), as the
    scale-to-zero test and `make bench-scale` apply it."""
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "predictor": {
                "minReplicas": 0,
                "scaleToZeroAfterSeconds": idle_seconds,
                "model": {
                    "modelFormat": {"name": "onnx"},
                    "storageUri": "pvc://models/iris-onnx",
                    "resources": {
                        "requests": {"cpu": TEST_CPU_REQUEST, "memory": "128Mi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    },
                },
            }
        },
    }


def traefik_own(status: int, text: str) -> bool:
    """Traefik's own answer for a host it does not route yet: 404 "page not found" (no router:
    its provider skips a Service without ready endpoints) or 503 "no available server"."""
    return (status == 404 and text.startswith("404 page not found")) or (
        status == 503 and "no available server" in text.lower()
    )


def wait_routed(ingress: str, host: str, path: str, body: Any, timeout: float = 60.0) -> float:
    """Seconds until Traefik routes `host`: the first answer to POST `path` it did not make
    itself. A Ready InferenceService reaches Traefik's routes a moment later (its provider
    throttles updates, about 2 s, and first needs the Service's ready endpoints)."""
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < timeout:
        try:
            answer = httpx.post(f"{ingress}{path}", json=body, headers={"Host": host}, timeout=5)
        except httpx.HTTPError as error:
            last = repr(error)
        else:
            if not traefik_own(answer.status_code, answer.text):
                return time.monotonic() - started
            last = f"{answer.status_code} {answer.text[:80]!r}"
        time.sleep(0.5)
    raise TimeoutError(f"{host}: not routed by the Ingress within {timeout:.0f} s; last: {last}")


def wait_ready(tier: Tier, names: list[str], timeout: float) -> dict[str, str]:
    """Poll until every name is Ready (recording seconds since apply); returns the ones
    still not Ready with their Ready condition's reason and message."""
    deadline = time.monotonic() + timeout
    waiting = set(names)
    last: dict[str, dict[str, Any]] = {}
    while waiting and time.monotonic() < deadline:
        last = listed(tier.cluster, tier.namespace)
        for name in sorted(waiting):
            if ready_condition(last.get(name, {})).get("status") == "True":
                tier.ready_after[name] = time.monotonic() - tier.applied_at
                waiting.discard(name)
        time.sleep(0.5)
    return {
        name: "{reason}: {message}".format(
            reason=ready_condition(last.get(name, {})).get("reason", "?"),
            message=ready_condition(last.get(name, {})).get("message", "no Ready condition"),
        )
        for name in sorted(waiting)
    }
