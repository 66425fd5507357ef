"""launch/bringup.launch.py and gsdf-bringup start the same nodes with the same parameters, the
YAML lists every parameter with its default, and the launcher restarts and stops its nodes."""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

from gsdf_ros.nodes import bringup, graph

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = {
    "image": "/cam/rgb", "camera_info": "/cam/info", "checkpoint": "/models/gsdf.ckpt", "device": "cuda:0",
    "window_length": "4", "namespace": "robot1", "compressed": "true",
}


class _Recorded:
    """Stands in for a launch action: keeps its arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context: dict) -> str:
        return context[self.name]


def _load_launch_file(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Import the launch file with small stand-ins for launch/launch_ros that record the actions."""
    stand_ins = {
        "launch": {"LaunchDescription": lambda actions: list(actions)},
        "launch.actions": {"DeclareLaunchArgument": _Recorded, "OpaqueFunction": _Recorded},
        "launch.substitutions": {"LaunchConfiguration": _LaunchConfiguration},
        "launch_ros": {},
        "launch_ros.actions": {"Node": _Recorded},
    }
    for name, attrs in stand_ins.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("gsdf_bringup_launch", ROOT / "launch" / "bringup.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launched_nodes(monkeypatch: pytest.MonkeyPatch, given: dict[str, str]) -> tuple[list[_Recorded], list[_Recorded]]:
    description = _load_launch_file(monkeypatch).generate_launch_description()
    declared = [a for a in description if "default_value" in a.kwargs]
    opaque = next(a for a in description if "function" in a.kwargs)
    context = {a.args[0]: given.get(a.args[0], a.kwargs["default_value"]) for a in declared}
    return declared, opaque.kwargs["function"](context)


def _parse_command(command: list[str]) -> dict:
    """Name, namespace, parameter files, overrides (YAML-parsed) and remappings of a node command."""
    out = {"module": command[2], "params_files": [], "overrides": {}, "remappings": [], "namespace": ""}
    args = iter(command[command.index("--ros-args") + 1 :])
    for flag in args:
        value = next(args)
        if flag == "--params-file":
            out["params_files"].append(value)
        elif flag == "-p":
            name, _, text = value.partition(":=")
            out["overrides"][name] = yaml.safe_load(text)
        elif value.startswith("__node:="):
            out["name"] = value.split(":=")[1]
        elif value.startswith("__ns:="):
            out["namespace"] = value.split(":=")[1].strip("/")
        else:
            out["remappings"].append(tuple(value.split(":=")))
    return out


@pytest.mark.parametrize("given", [{}, OVERRIDES], ids=["defaults", "overrides"])
def test_launch_file_and_bringup_start_the_same_nodes(monkeypatch: pytest.MonkeyPatch, given: dict[str, str]) -> None:
    declared, nodes = _launched_nodes(monkeypatch, given)
    assert [a.args[0] for a in declared] == [a.name for a in graph.LAUNCH_ARGUMENTS]
    assert all(a.kwargs["description"] for a in declared)
    commands = bringup.commands(dict(given))
    assert [n.kwargs["name"] for n in nodes] == list(commands) == ["gsdf_preprocess", "gsdf_inference", "gsdf_outputs"]
    for node in nodes:
        command = _parse_command(commands[node.kwargs["name"]])
        params_file, overrides = node.kwargs["parameters"]
        assert command["params_files"] == [params_file] and Path(params_file) == graph.package_file(graph.PARAMS_FILE)
        assert Path(params_file).read_bytes() == (ROOT / "config" / "gsdf.yaml").read_bytes()
        assert command["overrides"] == overrides
        assert command["remappings"] == node.kwargs["remappings"]
        assert command["namespace"] == node.kwargs["namespace"] == given.get("namespace", "")
        assert command["module"] == f"gsdf_ros.nodes.{node.kwargs['executable'].removeprefix('gsdf_')}_node"
        assert node.kwargs["package"] == "gsdf" and node.kwargs["respawn"]


def test_launch_arguments_reach_the_right_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    _, nodes = _launched_nodes(monkeypatch, {**OVERRIDES, "rviz": "true"})
    by_name = {n.kwargs["name"]: n.kwargs for n in nodes}
    assert by_name["gsdf_inference"]["parameters"][1] == {
        "checkpoint": "/models/gsdf.ckpt", "device": "cuda:0", "window_length": 4
    }
    assert ("image", "/cam/rgb") in by_name["gsdf_preprocess"]["remappings"]
    assert ("image/compressed", "/cam/rgb/compressed") in by_name["gsdf_preprocess"]["remappings"]
    assert by_name["gsdf_preprocess"]["parameters"][1] == {"compressed": True}
    assert by_name["rviz2"]["arguments"] == ["-d", str(graph.package_file("rviz/gsdf.rviz"))]


def test_params_file_model_settings_are_used_unless_an_argument_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """checkpoint, device and window_length of a params file reach the node when no launch argument
    names them (neither front end passes its own default on top), and an explicit argument wins."""
    params = yaml.safe_load((ROOT / "config" / "gsdf.yaml").read_text())
    params["/**"]["ros__parameters"].update(checkpoint="/models/mine.pt", device="cuda:1", window_length=3)
    params_file = tmp_path / "mine.yaml"
    params_file.write_text(yaml.safe_dump(params))
    for given, expected in (
        ({"params_file": str(params_file)}, {}),
        ({"params_file": str(params_file), "device": "cpu", "window_length": "0"},
         {"device": "cpu", "window_length": 0}),
    ):
        _, nodes = _launched_nodes(monkeypatch, given)
        inference = next(n.kwargs for n in nodes if n.kwargs["name"] == "gsdf_inference")
        command = _parse_command(bringup.commands(given)["gsdf_inference"])
        assert inference["parameters"] == [str(params_file), expected]
        assert command["params_files"] == [str(params_file)] and command["overrides"] == expected


@pytest.mark.ros
def test_yaml_lists_every_parameter_with_its_default() -> None:
    from gsdf_ros.nodes import inference_node, outputs_node, preprocess_node

    specs = {}
    for module in (preprocess_node, inference_node, outputs_node):
        for spec in module.PARAMETERS:
            assert specs.setdefault(spec.name, spec) == spec, f"{spec.name} differs between nodes"
            assert spec.check(spec.default) is None
    document = yaml.safe_load((ROOT / "config" / "gsdf.yaml").read_text())
    assert list(document) == ["/**"]
    assert document["/**"]["ros__parameters"] == {name: spec.default for name, spec in specs.items()}


def test_string_overrides_stay_strings() -> None:
    assert yaml.safe_load(graph.yaml_scalar("123")) == "123"
    assert yaml.safe_load(graph.yaml_scalar("")) == ""
    assert yaml.safe_load(graph.yaml_scalar(True)) is True
    with pytest.raises(ValueError, match="unknown launch argument"):
        graph.argument_values({"camera": "x"})


def test_backoff_doubles_and_resets_after_a_healthy_run() -> None:
    assert bringup.next_backoff(0.0, 0.1) == bringup.FIRST_BACKOFF_S
    assert bringup.next_backoff(4.0, 0.1) == 8.0
    assert bringup.next_backoff(bringup.MAX_BACKOFF_S, 0.1) == bringup.MAX_BACKOFF_S
    assert bringup.next_backoff(8.0, bringup.HEALTHY_AFTER_S) == bringup.FIRST_BACKOFF_S


def test_supervisor_restarts_a_dead_node_and_forwards_the_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bringup, "FIRST_BACKOFF_S", 0.1)
    crasher = bringup.Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"], respawn=True)
    sleeper = bringup.Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], respawn=True)
    supervisor = bringup.Supervisor([crasher, sleeper])
    for child in supervisor.children:
        child.start()
    deadline = time.monotonic() + 10
    while crasher.restarts < 2 and time.monotonic() < deadline:
        supervisor.step(time.monotonic())
        time.sleep(0.05)
    assert crasher.restarts >= 2 and sleeper.restarts == 0
    supervisor.request_stop(signal.SIGTERM)
    supervisor.stop()
    assert not sleeper.running() and sleeper.process.returncode == -signal.SIGINT


def test_dry_run_prints_one_command_per_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert bringup.main(["--dry-run", "--namespace", "robot1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("__ns:=/robot1" in line for line in lines)
