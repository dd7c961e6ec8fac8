"""One way from settings to flags for every CLI, and one logging setup for every process."""

from __future__ import annotations

import argparse
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelplane import logs
from modelplane.flags import Flag, flag_parser, report, settings_from_args
from modelplane.model_server import cli as serve_cli
from modelplane.model_server.settings import ServerSettings
from modelplane.operator import cli as operator_cli
from modelplane.router import cli as router_cli
from modelplane.router.settings import RouterSettings
from modelplane.storage import cli as storage_cli
from modelplane.storage.settings import StorageSettings


class Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    port: int = Field(default=8080, description="where to listen")
    mode: Literal["fast", "safe"] = "safe"
    switch: bool = False
    tags: Annotated[list[str], Flag(names=("-t", "--tag"), metavar="T")] = Field(
        default_factory=list
    )
    directory: Path | None = None
    secret: Annotated[str, Flag(hidden=True)] = ""


def parser() -> argparse.ArgumentParser:
    return flag_parser(Example, "example", "an example")


def test_every_field_is_a_flag_with_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAMPLE_PORT", raising=False)
    args = ["--port", "9", "--mode", "fast", "--switch", "-t", "a", "--tag", "b"]
    example = settings_from_args(Example, parser(), [*args, "--directory", "/d"])
    assert example.port == 9 and example.mode == "fast" and example.switch
    assert example.tags == ["a", "b"] and example.directory == Path("/d")
    with pytest.raises(SystemExit):
        parser().parse_args(["--mode", "reckless"])  # choices from the Literal
    with pytest.raises(SystemExit):
        parser().parse_args(["--secret", "x"])  # hidden: environment only


def test_flag_over_environment_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "7")
    monkeypatch.setenv("EXAMPLE_MODE", "fast")
    example = settings_from_args(Example, parser(), ["--mode", "safe"])
    assert (example.port, example.mode, example.switch) == (7, "safe", False)


def test_help_names_the_default_and_the_environment_variable() -> None:
    text = parser().format_help()
    assert "where to listen (default 8080)" in text
    assert "EXAMPLE_<FLAG>" in text and "--secret" not in text


def test_invalid_values_are_reported_per_field(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        settings_from_args(ServerSettings, serve_cli.parser(), ["--model-dir", "/m"])
    assert report("modelplane serve", caught.value) == 2
    assert (
        "modelplane serve: Value error, --model-dir needs --model-name" in capsys.readouterr().err
    )


CLIS = [
    (ServerSettings, serve_cli.parser(), {"server_name"}),
    (RouterSettings, router_cli.parser(), set()),
    (operator_cli.OperatorFlags, operator_cli.build_parser(), set()),
]


@pytest.mark.parametrize(("settings", "cli", "hidden"), CLIS, ids=["serve", "router", "operator"])
def test_each_cli_has_exactly_its_settings_as_flags(
    settings: type[BaseSettings], cli: argparse.ArgumentParser, hidden: set[str]
) -> None:
    dests = {a.dest for a in cli._actions if a.dest != "help"}
    assert dests == set(settings.model_fields) - hidden


def test_storage_pull_takes_its_settings_as_flags() -> None:
    pull = storage_cli.build_parser()
    args = vars(pull.parse_args(["pull", "s3://b/k", "/d", "--s3-endpoint", "http://minio"]))
    assert args["s3_endpoint"] == "http://minio" and "gcs_endpoint" not in args
    assert StorageSettings(**{k: v for k, v in args.items() if k == "s3_endpoint"}).s3_endpoint


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def test_json_lines_carry_extras_but_not_uvicorns_colour_copy(
    captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stderr", captured)
    logs.configure("info")
    # warning: another test's uvicorn may have set this logger's own level
    logging.getLogger("uvicorn.error").warning(
        "Started server process [%d]", 1, extra={"color_message": "Started \x1b[36m%d\x1b[0m"}
    )
    logging.getLogger("modelplane.x").warning("model ready", extra={"model": "m"})
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines[0]["msg"] == "Started server process [1]" and "color_message" not in lines[0]
    assert lines[1]["model"] == "m" and lines[1]["level"] == "warning"


def test_plain_format_on_request(captured: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", captured)
    logs.configure("debug", "plain")
    logging.getLogger("modelplane.router").debug("hello")
    line = captured.getvalue().strip()
    assert line.endswith("DEBUG modelplane.router: hello") and not line.startswith("{")


def _kopf_object_logger() -> logging.LoggerAdapter[logging.Logger]:
    """kopf's own logger for one object, as its handlers get it (`logger` in a handler)."""
    import kopf
    from kopf._cogs.structs.bodies import Body
    from kopf._core.actions.loggers import ObjectLogger

    body = Body({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}})
    return ObjectLogger(body=body, settings=kopf.OperatorSettings())


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_kopfs_lines_name_their_object_in_the_same_format(
    captured: io.StringIO, monkeypatch: pytest.MonkeyPatch, log_format: logs.LogFormat
) -> None:
    monkeypatch.setattr("sys.stderr", captured)
    logs.configure("info", log_format)
    _kopf_object_logger().info("reconciled")
    line = captured.getvalue().strip()
    if log_format == "plain":
        assert line.endswith("reconciled [ns/p]"), line
        return
    doc = json.loads(line)
    assert doc["msg"] == "reconciled" and doc["level"] == "info"
    assert doc["object"]["kind"] == "Pod" and doc["object"]["name"] == "p"
    assert "settings" not in doc and "k8s_skip" not in doc and "k8s_ref" not in doc
