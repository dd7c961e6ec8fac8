"""The REST API's OpenAPI schema (valid OpenAPI 3, every endpoint) and its Swagger UI, served locally."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from modelplane.model_server.rest.routes import match
from tests.support.model_server import RunningServer

# Every V2 endpoint the REST edge answers, as (method, path template).
ENDPOINTS = [
    ("get", "/v2"),
    ("get", "/v2/health/live"),
    ("get", "/v2/health/ready"),
    ("get", "/v2/models/stats"),
    ("post", "/v2/repository/index"),
    ("post", "/v2/repository/models/{model_name}/load"),
    ("post", "/v2/repository/models/{model_name}/unload"),
    *[
        (method, base + suffix)
        for base in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}")
        for method, suffix in (
            ("get", ""),
            ("get", "/ready"),
            ("post", "/infer"),
            ("get", "/config"),
            ("get", "/stats"),
        )
    ],
]


@pytest.fixture(scope="module")
def schema(onnx_server: RunningServer) -> dict[str, Any]:
    answer = httpx.get(f"{onnx_server.url}/v2/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    validate(schema)  # raises on any violation of the OpenAPI 3 specification


def test_the_schema_covers_every_endpoint_and_nothing_else(schema: dict[str, Any]) -> None:
    listed = {(m, p) for p, ops in schema["paths"].items() for m in ops}
    assert listed == set(ENDPOINTS)
    for method, path in ENDPOINTS:  # and each is a route the server matches
        concrete = path.replace("{model_name}", "simple").replace("{model_version}", "1")
        assert match(method.upper(), concrete).endpoint


def test_infer_is_described_by_the_wire_types(schema: dict[str, Any]) -> None:
    infer = schema["paths"]["/v2/models/{model_name}/infer"]["post"]
    body = infer["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InferenceRequest"}
    request = schema["components"]["schemas"]["InferenceRequest"]
    assert set(request["properties"]) == {"id", "parameters", "inputs", "outputs"}
    tensor = schema["components"]["schemas"]["RequestInput"]
    assert "raw" not in tensor["properties"]  # set by the edges only, never sent
    assert tensor["properties"]["shape"]["items"]["type"] == "integer"
    assert {"200", "400", "404", "413", "503"} <= set(infer["responses"])
    config = schema["paths"]["/v2/models/{model_name}/config"]["get"]
    ok = config["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ModelConfig"}


def test_answers_match_the_schema_types(onnx_server: RunningServer, schema: dict[str, Any]) -> None:
    from modelplane.model_server.protocol import triton_types, types

    url = onnx_server.url
    types.ModelMetadata.model_validate(httpx.get(f"{url}/v2/models/simple").json())
    types.HealthReady.model_validate(httpx.get(f"{url}/v2/health/ready").json())
    triton_types.ModelConfig.model_validate(httpx.get(f"{url}/v2/models/simple/config").json())
    triton_types.StatisticsResponse.model_validate(httpx.get(f"{url}/v2/models/stats").json())


def test_docs_page_loads_only_local_assets(onnx_server: RunningServer) -> None:
    page = httpx.get(f"{onnx_server.url}/v2/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links, page.text
    assert "/v2/openapi.json" in page.text
    for link in links:
        assert link.startswith("/v2/docs/"), f"the docs page loads {link} from elsewhere"
        asset = httpx.get(onnx_server.url + link)
        assert asset.status_code == 200 and len(asset.content) > 100, link
    assert httpx.get(f"{onnx_server.url}/v2/docs/../../etc/passwd").status_code == 404
    assert httpx.get(f"{onnx_server.url}/v2/docs/index.html").status_code == 404


def test_non_hot_endpoints_keep_their_answers_and_errors(onnx_server: RunningServer) -> None:
    url = onnx_server.url
    assert httpx.get(f"{url}/v2/health/live").json() == {"live": True}
    assert httpx.head(f"{url}/v2/health/live").status_code == 200
    missing = httpx.get(f"{url}/v2/models/nope/config")
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'nope' is not in the repository"}
    assert httpx.post(f"{url}/v2/health/live").status_code == 405
