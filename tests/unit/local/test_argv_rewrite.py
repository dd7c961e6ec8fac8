"""Container command lines become local ones: flags set in either form, container paths mapped."""

from __future__ import annotations

import pytest

from modelplane.local.argv import has_flag, map_path, map_paths, set_flag


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["serve", "--http-port=8080"], ["serve", "--http-port=9000"]),
        (["serve", "--http-port", "8080", "--x"], ["serve", "--http-port=9000", "--x"]),
        (["serve"], ["serve", "--http-port=9000"]),
        (
            ["serve", "--http-port=1", "--http-port=2"],
            ["serve", "--http-port=9000", "--http-port=9000"],
        ),
        (["serve", "--http-portal=1"], ["serve", "--http-portal=1", "--http-port=9000"]),
    ],
)
def test_set_flag(args: list[str], want: list[str]) -> None:
    assert set_flag(args, "--http-port", "9000") == want


def test_has_flag_in_both_forms() -> None:
    assert has_flag(["--metrics-port", "1"], "--metrics-port")
    assert has_flag(["--metrics-port=1"], "--metrics-port")
    assert not has_flag(["--metrics-portx=1"], "--metrics-port")


MOUNTS = {"/mnt/models": "/home/me/models", "/mnt/models/extra": "/data/extra", "/opt/t/": "/t"}


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("/mnt/models", "/home/me/models"),
        ("/mnt/models/1/model.onnx", "/home/me/models/1/model.onnx"),
        ("--model-dir=/mnt/models", "--model-dir=/home/me/models"),
        ("/mnt/models/extra/x", "/data/extra/x"),
        ("/mnt/modelsx", "/mnt/modelsx"),
        ("/opt/t", "/t"),
        ("--backend=onnx", "--backend=onnx"),
        ("relative/mnt/models", "relative/mnt/models"),
    ],
)
def test_map_path_longest_mount_first_whole_components_only(value: str, want: str) -> None:
    assert map_path(value, MOUNTS) == want


def test_map_paths_maps_every_argument() -> None:
    assert map_paths(["serve", "--model-dir", "/mnt/models"], MOUNTS) == [
        "serve",
        "--model-dir",
        "/home/me/models",
    ]
