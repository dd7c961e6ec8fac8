"""InferenceGraph (serving.modelplane.io/v1alpha1): several models chained, switched, split."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from modelplane.api.condition_language import ConditionError, parse
from modelplane.api.core import Affinity, ResourceRequirements, Toleration
from modelplane.api.meta import (
    DNS_LABEL_RULE,
    GROUP,
    ApiModel,
    Condition,
    Resource,
    StatusModel,
    cel_rules,
    check_dns_label,
    list_map,
)
from modelplane.api.scaling import (
    DEFAULT_SCALE_TO_ZERO_AFTER,
    REPLICAS_RULE,
    SCALE_TARGET_RULE,
    SCALE_TO_ZERO_RULE,
    ScaleMetric,
    ScalesToZero,
    check_replicas,
    check_scale_target,
)

RouterType = Literal["Sequence", "Switch", "Ensemble", "Splitter"]
Protocol = Literal["rest", "grpc"]
# What a serviceName step speaks when neither it nor its graph sets `protocol` (chosen by
# measurement, docs/router.md).
DEFAULT_PROTOCOL: Protocol = "rest"
# How the router runs REST requests (its `--http-edge`): one event loop, or a thread per
# client connection (the shorter hop at low concurrency; REST and gRPC steps alike).
HttpEdge = Literal["loop", "threads"]
DEFAULT_HTTP_EDGE: HttpEdge = "loop"
GRPC_URL_PATTERN = r"grpc://[^/]+:[0-9]+/v2/models/[^/]+"
ROOT = "root"
MAX_NODES = 32
MAX_STEPS = 32
MAX_RETRIES = 10
MAX_MAPPING = 128
MAX_TENSOR_NAME = 256
MIN_STEP_TIMEOUT = 0.001  # seconds
# kube-apiserver (v1.34) accepts an integer `timeout: 0` against `minimum: 0.001` (seen in
# tests/cluster/api), so this rule rejects it too (constant CEL cost).
STEP_TIMEOUT_RULE = {
    "rule": f"self >= {MIN_STEP_TIMEOUT}",
    "message": f"timeout must be at least {MIN_STEP_TIMEOUT} seconds",
}
TensorName = Annotated[str, Field(min_length=1, max_length=MAX_TENSOR_NAME)]
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

STEP_TARGET_RULE = {
    "rule": "(has(self.nodeName) ? 1 : 0) + (has(self.serviceName) ? 1 : 0)"
    " + (has(self.serviceUrl) ? 1 : 0) == 1",
    "message": "a step must set exactly one of nodeName, serviceName or serviceUrl",
}
SPLITTER_WEIGHT_RULE = {
    "rule": "self.routerType != 'Splitter' || self.steps.all(s, has(s.weight))",
    "message": "every step of a Splitter node needs a weight",
    "fieldPath": ".steps",
}
SPLITTER_SUM_RULE = {
    "rule": "self.routerType != 'Splitter' || !self.steps.all(s, has(s.weight))"
    " || self.steps.map(s, s.weight).sum() == 100",
    "message": "the weights of a Splitter node's steps must sum to 100",
    "fieldPath": ".steps",
}
UNIQUE_STEP_NAMES_RULE = {
    "rule": "self.steps.all(a, !has(a.name)"
    " || self.steps.exists_one(b, has(b.name) && b.name == a.name))",
    "message": "step names must be unique within a node",
    "fieldPath": ".steps",
}
STEP_PROTOCOL_RULE = {
    "rule": "!has(self.protocol) || has(self.serviceName) || (has(self.serviceUrl)"
    " && (self.protocol == 'grpc') == self.serviceUrl.startsWith('grpc://'))",
    "message": "protocol applies to serviceName and serviceUrl steps, and must agree with "
    "serviceUrl's scheme (grpc:// for grpc, http(s):// for rest)",
}
ROOT_RULE = {
    "rule": "'root' in self.nodes",
    "message": "spec.nodes must contain a node named root",
    "fieldPath": ".nodes",
}
# A messageExpression naming the unknown node exceeds the CRD's CEL cost budget (map keys have
# no length bound in a structural schema), so the server's message is the fixed one.
NODE_REF_RULE = {
    "rule": "self.nodes.all(n, self.nodes[n].steps.all(s, !has(s.nodeName)"
    " || s.nodeName in self.nodes))",
    "message": "every step nodeName must name a node in spec.nodes",
    "fieldPath": ".nodes",
}


class InferenceStep(ApiModel):
    """One routing target of a node: an InferenceService, a URL or another node."""

    model_config = ConfigDict(json_schema_extra=cel_rules(STEP_TARGET_RULE, STEP_PROTOCOL_RULE))

    name: str | None = Field(
        default=None, max_length=63, description="Name of the step, unique within its node."
    )
    node_name: str | None = Field(
        default=None, max_length=63, description="Node of this graph to route to."
    )
    service_name: str | None = Field(
        default=None,
        max_length=63,
        description="InferenceService in the graph's namespace to route to.",
    )
    service_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=rf"^(https?://.+|{GRPC_URL_PATTERN})$",
        description="Where to send the request: a V2 REST infer URL "
        "(http://host/v2/models/NAME/infer) or a V2 gRPC model (grpc://host:port/v2/models/NAME).",
    )
    protocol: Protocol | None = Field(
        default=None,
        description="How the router calls this step's model server: rest (V2 JSON or binary "
        "over HTTP) or grpc (V2 gRPC, raw tensor contents). Default: the graph's protocol, "
        f"else {DEFAULT_PROTOCOL}. A serviceUrl step's scheme must agree. modelplane extension.",
    )
    data: Literal["$request", "$response"] | None = Field(
        default=None,
        description="What this step receives: $request (the graph's input, the default) "
        "or $response (the previous step's output, to chain a Sequence).",
    )
    condition: str | None = Field(
        default=None,
        max_length=1024,
        description="Path expression over the request JSON; a Switch node runs the first "
        "step whose condition matches.",
    )
    weight: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Percent of requests a Splitter node sends to this step; weights sum to 100.",
    )
    dependency: Literal["Hard", "Soft"] | None = Field(
        default=None,
        description="Hard: a failure of this step fails the graph; Soft (default): "
        "the graph goes on.",
    )
    timeout: float | None = Field(
        default=None,
        ge=MIN_STEP_TIMEOUT,
        json_schema_extra=cel_rules(STEP_TIMEOUT_RULE),
        description="Seconds one attempt at this step may take (fractions allowed; default: "
        "the router's --step-timeout). modelplane extension: KServe has no per-step timeout.",
    )
    retries: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRIES,
        description="Times the router retries this step after a connection error or a "
        "502/503/504 answer (default: the router's --retries). modelplane extension: KServe "
        "has no per-step retries.",
    )
    mapping: dict[str, TensorName] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MAPPING,
        description="Renames tensors on the way into this step: previous output (or request "
        "input) name -> this step's input name; tensors not named are dropped. modelplane "
        "extension: KServe has no per-step mapping.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> InferenceStep:
        targets = [self.node_name, self.service_name, self.service_url]
        if sum(t is not None for t in targets) != 1:
            raise ValueError(STEP_TARGET_RULE["message"])
        if self.protocol is not None and self.service_name is None:
            url = self.service_url
            if url is None or (self.protocol == "grpc") != url.startswith("grpc://"):
                raise ValueError(STEP_PROTOCOL_RULE["message"])
        return self

    @model_validator(mode="after")
    def _condition_parses(self) -> InferenceStep:
        if self.condition:  # the CRD's schema cannot parse it: the operator's InvalidSpec says why
            try:
                parse(self.condition)
            except ConditionError as exc:
                raise ValueError(f"invalid condition {self.condition!r}: {exc}") from exc
        return self


class InferenceRouter(ApiModel):
    """A node of the graph: how it routes a request over its steps."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(SPLITTER_WEIGHT_RULE, SPLITTER_SUM_RULE, UNIQUE_STEP_NAMES_RULE)
    )

    router_type: RouterType = Field(
        description="Sequence: steps in order; Switch: the first step whose condition "
        "matches; Ensemble: all steps at once, outputs merged; Splitter: one step picked by weight."
    )
    steps: list[InferenceStep] = Field(
        min_length=1, max_length=MAX_STEPS, description="Routing targets of this node."
    )

    @model_validator(mode="after")
    def _steps(self) -> InferenceRouter:
        if self.router_type == "Splitter":
            weights = [s.weight for s in self.steps]
            if any(w is None for w in weights):
                raise ValueError(SPLITTER_WEIGHT_RULE["message"])
            if sum(w for w in weights if w is not None) != 100:
                raise ValueError(SPLITTER_SUM_RULE["message"])
        names = [s.name for s in self.steps if s.name is not None]
        if len(names) != len(set(names)):
            raise ValueError(UNIQUE_STEP_NAMES_RULE["message"])
        return self


class InferenceGraphSpec(ApiModel, ScalesToZero):
    """Desired state of an InferenceGraph."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            ROOT_RULE,
            NODE_REF_RULE,
            REPLICAS_RULE,
            SCALE_TARGET_RULE,
            SCALE_TO_ZERO_RULE,
        )
    )

    nodes: dict[str, InferenceRouter] = Field(
        min_length=1,
        max_length=MAX_NODES,
        description="Nodes of the graph by name; requests enter at the node named root.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Compute resources of the router container."
    )
    affinity: Affinity | None = Field(default=None, description="Affinity of the router pods.")
    node_selector: dict[str, str] | None = Field(
        default=None, description="Node labels the router pods must match."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Tolerations of the router pods."
    )
    timeout: int | None = Field(
        default=None, ge=1, description="Seconds a request through the graph may take (default 60)."
    )
    protocol: Protocol | None = Field(
        default=None,
        description="How the router calls the model servers of serviceName steps that set no "
        f"protocol: rest or grpc (default {DEFAULT_PROTOCOL}). modelplane extension.",
    )
    http_edge: HttpEdge | None = Field(
        default=None,
        description="How the router runs REST requests: loop (one event loop: the most "
        "requests per CPU under load) or threads (a thread per client connection: the shorter "
        "hop and Ensemble at low concurrency, more CPU under load; REST and gRPC steps alike). "
        f"Default {DEFAULT_HTTP_EDGE}. modelplane extension.",
    )
    min_replicas: int | None = Field(
        default=None,
        ge=0,
        description="Fewest router replicas (default 1); 0 scales the router to zero when idle "
        "and wakes it on request, as an InferenceService's predictor.",
    )
    max_replicas: int | None = Field(
        default=None, ge=1, description="Most router replicas; autoscaling when above minReplicas."
    )
    scale_metric: ScaleMetric | None = Field(
        default=None,
        description="Metric the router's autoscaler follows (see InferenceService); rps and "
        "concurrency are read from the router's own request metrics.",
    )
    scale_target: int | None = Field(
        default=None, ge=1, description="Target value of scaleMetric per router replica."
    )
    scale_to_zero_after_seconds: int | None = Field(
        default=None,
        ge=1,
        description="With minReplicas 0: seconds without requests after which the router goes "
        f"to 0 replicas (default {DEFAULT_SCALE_TO_ZERO_AFTER}); the next request wakes it.",
    )

    @model_validator(mode="after")
    def _graph(self) -> InferenceGraphSpec:
        if ROOT not in self.nodes:
            raise ValueError(ROOT_RULE["message"])
        for name, node in self.nodes.items():
            for step in node.steps:
                if step.node_name is not None and step.node_name not in self.nodes:
                    raise ValueError(
                        f"{NODE_REF_RULE['message']}; unknown: {step.node_name} (in node {name})"
                    )
        check_replicas(self.min_replicas, self.max_replicas)
        check_scale_target(self.scale_metric, self.scale_target)
        self.check_idle_seconds()
        return self


class InferenceGraphStatus(StatusModel):
    """Observed state of an InferenceGraph."""

    url: str | None = Field(default=None, description="URL clients call.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready and friends.",
        json_schema_extra=list_map("type"),
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status describes."
    )


class InferenceGraph(Resource):
    """Several InferenceServices composed into one endpoint by a router."""

    API_VERSION: ClassVar[str] = f"{GROUP}/v1alpha1"
    KIND: ClassVar[str] = "InferenceGraph"
    PLURAL: ClassVar[str] = "inferencegraphs"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ig",)

    ROOT_RULES: ClassVar[tuple[dict[str, str], ...]] = (DNS_LABEL_RULE,)

    spec: InferenceGraphSpec = Field(description="Desired state.")
    status: InferenceGraphStatus | None = Field(default=None, description="Observed state.")

    @model_validator(mode="after")
    def _name(self) -> InferenceGraph:
        check_dns_label(self.metadata)
        return self
