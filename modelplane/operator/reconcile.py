"""One reconcile pass per custom resource: read, select, render, apply, prune, status.

Level-based: a pass looks only at the current state of the world, so create, update,
resume, a child's change and the periodic resync all run the same code. Blocking (it
calls the API through `Kube`); the queue runs passes off the event loop.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelplane.api import (
    ClusterServingRuntime,
    InferenceGraph,
    InferenceService,
    NoRuntimeError,
    ServingRuntime,
    pool_refusals,
    select_runtime,
)
from modelplane.operator import names
from modelplane.operator.activation_pass import ActivationPass
from modelplane.operator.config import OperatorConfig
from modelplane.operator.events import EventRecorder
from modelplane.operator.health import ready_of
from modelplane.operator.kinds import GRAPH, ISVC, POOL
from modelplane.operator.kube import Kube
from modelplane.operator.pool_client import ReplicaClient
from modelplane.operator.pool_pass import PoolPass
from modelplane.operator.pool_status import pool_member_status
from modelplane.operator.render.activation import Activation
from modelplane.operator.render.graph import (
    NoGrpcTargetError,
    UnresolvedServicesError,
    render_inference_graph,
    resolve_graph,
    service_names,
)
from modelplane.operator.render.isvc import (
    kept_revision_objects,
    predictor_revision,
    render_inference_service,
)
from modelplane.operator.render.pool import pool_problems, render_pool_member
from modelplane.operator.revision_status import revision_splits
from modelplane.operator.route_probe import RouteProber, answers_probe
from modelplane.operator.status import graph_status, invalid_status, isvc_status
from modelplane.operator.status_parts import Failure, component_readiness
from modelplane.operator.traffic import TrafficPlan, plan_traffic
from modelplane.operator.writes import Writes

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (kind, namespace, name)


def utc_now() -> str:
    """Current time in RFC 3339, second precision (as Kubernetes writes it)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PassResult:
    """What a pass asks of the queue: a later retry, other objects to look at."""

    retry_after: float | None = None
    follow_up: list[Key] = field(default_factory=list)


class Reconciler:
    """Reconcile passes for InferenceServices and InferenceGraphs."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        clock: Callable[[], str] = utc_now,
        events: EventRecorder | None = None,
        replicas: ReplicaClient | None = None,
        namespaces: Sequence[str] = (),
        routes: RouteProber | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        # with an ingress probe: Ready waits until the ingress routes the host
        self.routes = routes if routes is not None else RouteProber(config.ingress_probe_url)
        self.activations = ActivationPass(kube, config, namespaces)  # scale to zero
        self.clock = clock
        self.writes = Writes(kube, events)  # Events on the owners' transitions (none in tests)
        self.pools = PoolPass(kube, config, replicas)  # replicas: pool pods' servers

    def run(self, key: Key) -> PassResult:
        """One pass for the object behind key."""
        kind, namespace, name = key
        if kind == ISVC:
            return self.reconcile_isvc(namespace, name)
        if kind == GRAPH:
            return self.reconcile_graph(namespace, name)
        if kind == POOL:
            outcome = self.pools.run(namespace, name)
            return PassResult(
                retry_after=self.config.pool_check_seconds if outcome.exists else None,
                follow_up=[(ISVC, namespace, member) for member in outcome.changed],
            )
        raise ValueError(f"cannot reconcile kind {kind}")

    # --- InferenceService -------------------------------------------------------------

    def reconcile_isvc(self, namespace: str, name: str) -> PassResult:
        """Bring an InferenceService's children and status in line with its spec."""
        obj = self.kube.get(ISVC, namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self.routes.forget((ISVC, namespace, name))
            return PassResult()  # ownerReferences let the garbage collector remove children
        try:
            isvc = InferenceService.model_validate(obj)
        except ValidationError as error:
            self.writes.status(obj, invalid_status(obj, str(error), self.clock()))
            return PassResult()
        failure, runtime = self._runtime_for(isvc)
        if failure is None and runtime is not None and runtime.spec.multi_model:
            return self._reconcile_pool_member(obj, isvc, runtime)
        rendered: list[Obj] = []
        plan: TrafficPlan | None = None
        activation: Activation | None = None
        if failure is None:
            try:
                latest, _ = predictor_revision(isvc, runtime, self.config)
                plan = self._plan(obj, isvc, latest)
                if isvc.spec.predictor.scales_to_zero:
                    activation = self.activations.live(
                        namespace, names.component(name, names.PREDICTOR), latest
                    )
                rendered = render_inference_service(isvc, runtime, self.config, plan, activation)
            except ValueError as error:
                failure = Failure("InvalidPredictorSpec", str(error))
        keep = kept_revision_objects(plan) if plan is not None else set()
        children, rejected = self.writes.children(
            ISVC, obj, rendered, apply=failure is None, keep=keep
        )
        if activation is not None and activation.at_zero and rejected is None:
            self.activations.drop_controller_slices(
                namespace, names.component(name, names.PREDICTOR)
            )
        failed = failure or rejected
        status = isvc_status(isvc, children, self.config, self.clock(), failed, plan)
        route, retry = self.routes.check((ISVC, namespace, name), status, answers_probe(isvc))
        if route is not None:
            status = isvc_status(isvc, children, self.config, self.clock(), failed, plan, route)
        if not self.writes.status(obj, status):
            return PassResult(retry_after=retry)
        return PassResult(retry_after=retry, follow_up=self._graphs_using(namespace, name))

    def _reconcile_pool_member(
        self, obj: Obj, isvc: InferenceService, runtime: ServingRuntime
    ) -> PassResult:
        """An InferenceService on a multi-model runtime: its Service and route; the pool pass
        places and loads it, and its status comes from what that pass recorded."""
        namespace, name = isvc.metadata.namespace or "default", isvc.metadata.name or ""
        runtime_name = runtime.metadata.name or ""
        refusals = pool_refusals(isvc) + [
            f"runtime {runtime_name}: {p}" for p in pool_problems(runtime, self.config)
        ]
        failure = (
            Failure(
                "InvalidPredictorSpec",
                f"on multi-model runtime {runtime_name}: " + "; ".join(refusals),
            )
            if refusals
            else None
        )
        rendered = [] if failure else render_pool_member(isvc, runtime, self.config)
        children, rejected = self.writes.children(ISVC, obj, rendered, apply=failure is None)
        retry = None
        if failure is not None or rejected is not None:
            status = isvc_status(isvc, children, self.config, self.clock(), failure or rejected)
        else:
            pool = self.kube.get("StatefulSet", namespace, names.pool(runtime_name))
            args = (isvc, children, runtime_name, pool, self.config)
            status = pool_member_status(*args, self.clock())
            route, retry = self.routes.check((ISVC, namespace, name), status, True)
            if route is not None:
                status = pool_member_status(*args, self.clock(), route)
        pool_key = (POOL, namespace, names.pool_key(runtime_name))
        if not self.writes.status(obj, status):
            return PassResult(retry_after=retry, follow_up=[pool_key])
        follow_up = [pool_key, *self._graphs_using(namespace, name)]
        return PassResult(retry_after=retry, follow_up=follow_up)

    def _plan(self, obj: Obj, isvc: InferenceService, latest: str) -> TrafficPlan:
        """The predictor's traffic plan from the live revisions and the status's memory."""
        meta = obj["metadata"]
        selector = names.owner_selector(ISVC, meta["name"])
        selector += f",{names.COMPONENT_LABEL}={names.PREDICTOR}"
        # A Deployment of an operator without revisions (`{name}-predictor`, no revision
        # label) serves as the rolled-out revision until the first revision is ready.
        legacy = names.component(meta["name"], names.PREDICTOR)
        ready: dict[str, bool] = {}
        for deployment in self.kube.list("Deployment", meta["namespace"], selector):
            name = deployment["metadata"]["name"]
            revision = (deployment["metadata"].get("labels") or {}).get(names.REVISION_LABEL)
            if revision is None and name != legacy:
                continue
            cond, _ = component_readiness("Ready", deployment)
            ready[revision or name] = cond["status"] == "True"
        remembered = ((obj.get("status") or {}).get("components") or {}).get(names.PREDICTOR) or {}
        rolled_out = remembered.get("latestRolledoutRevision")
        if rolled_out is None and legacy in ready:
            rolled_out = legacy
        return plan_traffic(
            latest,
            isvc.spec.predictor.canary_traffic_percent,
            rolled_out,
            remembered.get("previousRolledoutRevision"),
            ready,
        )

    def _runtime_for(self, isvc: InferenceService) -> tuple[Failure | None, ServingRuntime | None]:
        model = isvc.spec.predictor.model
        if model is None:
            return None, None
        namespace = isvc.metadata.namespace
        runtimes = list(self._parse(ServingRuntime, self.kube.list("ServingRuntime", namespace)))
        runtimes += self._parse(
            ClusterServingRuntime, self.kube.list("ClusterServingRuntime", None)
        )
        try:
            return None, select_runtime(model, runtimes)
        except NoRuntimeError as error:
            return Failure(error.reason, str(error)), None

    @staticmethod
    def _parse(cls: type[ServingRuntime], items: Iterable[Obj]) -> list[ServingRuntime]:
        parsed = []
        for item in items:
            try:
                parsed.append(cls.model_validate(item))
            except ValidationError as error:
                log.warning("ignoring invalid %s %s: %s", cls.KIND, item["metadata"]["name"], error)
        return parsed

    def _graphs_using(self, namespace: str, isvc_name: str) -> list[Key]:
        keys = []
        for item in self.kube.list(GRAPH, namespace):
            try:
                graph = InferenceGraph.model_validate(item)
            except ValidationError:
                continue
            if isvc_name in service_names(graph):
                keys.append((GRAPH, namespace, graph.metadata.name or ""))
        return keys

    # --- InferenceGraph ---------------------------------------------------------------

    def reconcile_graph(self, namespace: str, name: str) -> PassResult:
        """Resolve the graph's services, then run its router; wait while any is not ready."""
        obj = self.kube.get(GRAPH, namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self.routes.forget((GRAPH, namespace, name))
            return PassResult()
        try:
            graph = InferenceGraph.model_validate(obj)
        except ValidationError as error:
            self.writes.status(obj, invalid_status(obj, str(error), self.clock()))
            return PassResult()
        urls, grpc_targets, splits, waiting = self._dependencies(namespace, service_names(graph))
        rendered: list[Obj] = []
        rejected: Failure | None = None
        router = names.router(name)
        activation = (
            self.activations.live(namespace, router, router) if graph.spec.scales_to_zero else None
        )
        # Unresolved: keep whatever runs now; the status says what is missing.
        try:
            resolved = resolve_graph(graph, urls, grpc_targets, splits)
            rendered = render_inference_graph(graph, resolved, self.config, activation)
        except UnresolvedServicesError:
            pass
        except NoGrpcTargetError as error:
            waiting = waiting or Failure("GrpcUnavailable", str(error))
        except ValueError as error:  # minReplicas 0 that this operator cannot serve
            rejected = Failure("InvalidGraphSpec", str(error))
        children, refused = self.writes.children(GRAPH, obj, rendered, apply=bool(rendered))
        rejected = rejected or refused
        if activation is not None and activation.at_zero and rejected is None and rendered:
            self.activations.drop_controller_slices(namespace, router)
        status = graph_status(graph, children, self.config, self.clock(), waiting, rejected)
        route, retry = self.routes.check((GRAPH, namespace, name), status, True)
        if route is not None:
            status = graph_status(
                graph, children, self.config, self.clock(), waiting, rejected, route
            )
        self.writes.status(obj, status)
        if waiting is not None:
            retry = self.config.dependency_retry_seconds
        return PassResult(retry_after=retry)

    def _dependencies(
        self, namespace: str, services: list[str]
    ) -> tuple[dict[str, str], dict[str, str], dict[str, list[tuple[str, int]]], Failure | None]:
        """Base URLs of the named InferenceServices, gRPC targets of those whose entry serves
        gRPC (no transformer: the predictor's Service, port 8081), the revision splits of those
        that split traffic, and which are not ready."""
        urls: dict[str, str] = {}
        grpc_targets: dict[str, str] = {}
        splits: dict[str, list[tuple[str, int]]] = {}
        missing: list[str] = []
        unready: list[str] = []
        for service in services:
            obj = self.kube.get(ISVC, namespace, service)
            if obj is None:
                missing.append(service)
                continue
            status = obj.get("status") or {}
            url = (status.get("address") or {}).get("url")
            if url:
                urls[service] = url
                if not (obj.get("spec") or {}).get("transformer"):
                    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
                    grpc_targets[service] = f"{host}:{names.GRPC_PORT}"
            split = revision_splits(status)
            if split:
                splits[service] = split
            ready = ready_of(status.get("conditions") or [])
            if ready.get("status") != "True":  # named with its own reason, for the graph's
                unready.append(f"{service} ({ready.get('reason') or 'no status yet'})")
        if missing:
            return (
                urls,
                grpc_targets,
                splits,
                Failure(
                    "DependencyNotFound", "InferenceService(s) not found: " + ", ".join(missing)
                ),
            )
        if unready:
            return (
                urls,
                grpc_targets,
                splits,
                Failure(
                    "DependencyNotReady", "InferenceService(s) not ready: " + ", ".join(unready)
                ),
            )
        return urls, grpc_targets, splits, None
