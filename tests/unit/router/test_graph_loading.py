"""Loading a resolved graph: a good one becomes typed nodes, a bad one names its fault."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.router.errors import GraphError
from modelplane.router.graph import load, load_file

GOOD: dict[str, Any] = {
    "name": "pipeline",
    "timeout": 5,
    "nodes": {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "pre", "serviceUrl": "http://127.0.0.1:9001/v2/models/pre/infer"},
                {
                    "name": "branch",
                    "nodeName": "pick",
                    "data": "$response",
                    "condition": "outputs.0.data.0 > 0.5",
                    "dependency": "Hard",
                },
            ],
        },
        "pick": {
            "routerType": "Switch",
            "steps": [
                {
                    "serviceUrl": "http://a/v2/models/a/infer",
                    "condition": "outputs.@x",
                    "timeout": 2,
                },
                {"serviceUrl": "http://b/v2/models/b/infer", "retries": 0, "mapping": {"x": "y"}},
            ],
        },
    },
}


def test_good_graph_loads_into_typed_nodes() -> None:
    graph = load(GOOD)
    assert graph.name == "pipeline"
    assert graph.timeout == 5.0
    assert graph.root.router_type == "Sequence"
    pre, branch = graph.root.steps
    assert pre.label == "root/pre" and pre.dependency == "Soft" and pre.data == "$request"
    assert branch.node_name == "pick" and branch.dependency == "Hard"
    assert branch.condition is not None and branch.condition.matches({"outputs": [{"data": [0.9]}]})
    first, second = graph.nodes["pick"].steps
    assert first.label == "pick/0" and first.timeout == 2.0 and first.key == "0"
    assert second.retries == 0 and second.mapping == {"x": "y"}


def test_whole_inference_graph_object_loads(tmp_path: Path) -> None:
    obj = {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "g"},
        "spec": {"nodes": GOOD["nodes"]},
    }
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(obj))
    assert load_file(path).name == "g"
    # its metadata or spec not an object: named (they were a TypeError and an
    # AttributeError, a traceback from `modelplane router` instead of exit 2)
    for part, odd in (("spec", 5), ("spec", "x"), ("metadata", 5), ("metadata", ["g"])):
        with pytest.raises(GraphError, match="'metadata' and 'spec' must be objects"):
            load({**obj, part: odd})


def _broken(edit: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    edit(doc)
    return doc


def _set_step(node: str, i: int, **fields: Any) -> Any:
    return lambda d: d["nodes"][node]["steps"][i].update(fields)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _set_step("root", 1, condition="outputs.0 >"),
            r"nodes\.root\.steps\[1\] \(branch\): invalid condition 'outputs\.0 >'",
        ),
        (_set_step("pick", 0, condition="a ~ 1"), r"nodes\.pick\.steps\[0\]: invalid condition"),
        (lambda d: d["nodes"].pop("pick"), r"nodeName.*\bpick\b"),
        (lambda d: d["nodes"].pop("root"), r"must contain a node named root"),
        (lambda d: d.pop("name"), r"'name' must be"),
        (_set_step("root", 0, serviceUrl=None, serviceName="pre"), r"serviceName must be resolved"),
        (
            _set_step("root", 0, nodeName="pick"),
            r"steps\[0\] \(pre\): a step must set exactly one of",
        ),
        (
            _set_step("root", 0, serviceUrl="ftp://x"),
            r"steps\[0\] \(pre\): serviceUrl: String should match",
        ),
        (_set_step("root", 0, data="$other"), r"\(pre\): data: Input should be"),
        (
            _set_step("root", 0, dependency="Maybe"),
            r"\(pre\): dependency: Input should be 'Hard' or 'Soft'",
        ),
        (_set_step("root", 0, timeout=0), r"steps\[0\] \(pre\): timeout: Input should be greater"),
        (_set_step("root", 0, timeout="2"), r"\(pre\): timeout: Input should be a valid number"),
        (_set_step("root", 0, retries=-1), r"\(pre\): retries: Input should be greater"),
        (_set_step("root", 0, retries=True), r"\(pre\): retries: Input should be a valid integer"),
        (
            _set_step("root", 0, mapping={"a": 1}),
            r"\(pre\): mapping\.a: Input should be a valid str",
        ),
        (_set_step("root", 0, mapping={}), r"\(pre\): mapping: Dictionary should have at least"),
        (_set_step("root", 0, retry=1), r"\(pre\): retry: Extra inputs are not permitted"),
        (_set_step("root", 0, name="branch"), r"nodes\.root: step names must be unique"),
        (
            lambda d: d["nodes"]["root"].update(routerType="Chain"),
            r"nodes\.root: routerType: Input should be",
        ),
        (
            lambda d: d["nodes"]["root"].update(steps=[]),
            r"nodes\.root: steps: List should have at least 1 item",
        ),
        (lambda d: d["nodes"]["pick"]["steps"].append({"nodeName": "root"}), r"cycle: .*root"),
        (lambda d: d.update(timeout=-1), r"graph: 'timeout'"),
    ],
)
def test_bad_graph_is_rejected_naming_the_place(edit: Any, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        load(_broken(edit))


def test_splitter_weights_must_sum_to_100() -> None:
    node = {
        "routerType": "Splitter",
        "steps": [
            {"serviceUrl": "http://a/x", "weight": 30},
            {"serviceUrl": "http://b/x", "weight": 60},
        ],
    }
    with pytest.raises(GraphError, match="must sum to 100"):
        load({"name": "s", "nodes": {"root": node}})
    node["steps"][1]["weight"] = 70
    assert load({"name": "s", "nodes": {"root": node}}).root.router_type == "Splitter"


def test_the_graph_in_the_docs_loads() -> None:
    import re

    text = (Path(__file__).parents[3] / "docs" / "router.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    graph = load(yaml.safe_load(block.group(1)))
    assert graph.name == "pipeline" and set(graph.nodes) == {"root", "explainers"}
