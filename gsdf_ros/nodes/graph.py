"""The one description of the gsdf graph, used by ``launch/bringup.launch.py`` and ``gsdf-bringup``.

Launch arguments arrive as strings (from ``ros2 launch`` or the command line); :func:`nodes`
turns them into the node list: names, executables, remappings, parameter overrides, respawn.
Both front ends load the parameter file (``params_file``, default ``config/gsdf.yaml``) first and
apply the overrides on top. The arguments that mirror a parameter (``compressed``, ``checkpoint``,
``device``, ``window_length``) default to empty, meaning "as the parameter file says": only an
argument given explicitly overrides the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

PACKAGE = "gsdf"
PARAMS_FILE = "config/gsdf.yaml"
RVIZ_FILE = "rviz/gsdf.rviz"
DEFAULT_CHECKPOINT = "models/gsdf_tiny_synthho.pt"
"""The checkpoint shipped with the package (tiny config, trained on SynthHO); used when none is given."""
RESPAWN_DELAY_S = 2.0


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str


LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument("image", "/camera/color/image_raw",
                   "camera image topic (sensor_msgs/Image); <image>/compressed is used when compressed is true"),
    LaunchArgument("camera_info", "/camera/color/camera_info",
                   "camera info topic (sensor_msgs/CameraInfo) of that image"),
    LaunchArgument("compressed", "",
                   "true: subscribe to <image>/compressed (sensor_msgs/CompressedImage) instead of <image>; "
                   "empty: as the parameter file says"),
    LaunchArgument("checkpoint", "",
                   "model checkpoint file (or module:factory returning a Predictor); empty: as the parameter file says "
                   "(its empty default: the shipped tiny SynthHO model)"),
    LaunchArgument("device", "",
                   "torch device of the model, e.g. cpu or cuda:0; empty: as the parameter file says (default cpu)"),
    LaunchArgument("window_length", "",
                   "frames per temporal window (0: the model's own); empty: as the parameter file says"),
    LaunchArgument("namespace", "", "namespace of all gsdf nodes and their topics"),
    LaunchArgument("params_file", "", "parameter YAML (empty: the package's config/gsdf.yaml)"),
    LaunchArgument("rviz", "false", "also start RViz with rviz/gsdf.rviz"),
)


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph as both front ends start it."""

    name: str
    module: str  # gsdf_ros.nodes.<module>
    executable: str  # console script / lib/gsdf executable
    remappings: tuple[tuple[str, str], ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)
    respawn: bool = True


def argument_values(given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every launch argument's value: `given` where set, the default elsewhere; unknown names raise."""
    given = dict(given or {})
    unknown = set(given) - {a.name for a in LAUNCH_ARGUMENTS}
    if unknown:
        raise ValueError(f"unknown launch argument(s): {', '.join(sorted(unknown))}")
    return {a.name: str(given.get(a.name, a.default)) for a in LAUNCH_ARGUMENTS}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(f"expected true or false, got {text!r}")
    return lowered in ("true", "1")


PARAMETER_ARGUMENTS: dict[str, tuple[str, Any]] = {
    "compressed": ("gsdf_preprocess", parse_bool),
    "checkpoint": ("gsdf_inference", str),
    "device": ("gsdf_inference", str),
    "window_length": ("gsdf_inference", int),
}
"""Launch arguments that set a node parameter of the same name, only when given (non-empty)."""


def explicit_overrides(values: Mapping[str, str], node: str) -> dict[str, Any]:
    """The parameter overrides of `node` from the launch arguments given explicitly (non-empty)."""
    v = argument_values(values)
    return {
        name: parse(v[name].strip())
        for name, (owner, parse) in PARAMETER_ARGUMENTS.items()
        if owner == node and v[name].strip()
    }


def nodes(values: Mapping[str, str]) -> list[NodeSpec]:
    """The nodes for the given launch-argument values (see :func:`argument_values`)."""
    v = argument_values(values)
    image = v["image"]
    return [
        NodeSpec(
            "gsdf_preprocess",
            "preprocess_node",
            "gsdf_preprocess",
            remappings=(
                ("image", image), ("image/compressed", f"{image}/compressed"), ("camera_info", v["camera_info"])
            ),
            overrides=explicit_overrides(v, "gsdf_preprocess"),
        ),
        NodeSpec(
            "gsdf_inference",
            "inference_node",
            "gsdf_inference",
            overrides=explicit_overrides(v, "gsdf_inference"),
        ),
        NodeSpec("gsdf_outputs", "outputs_node", "gsdf_outputs"),
    ]


def package_file(relative: str) -> Path:
    """A file of the package: from its installed share directory, else from this source tree."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        pass
    else:
        try:
            installed = Path(get_package_share_directory(PACKAGE)) / relative
            if installed.exists():
                return installed
        except (PackageNotFoundError, ValueError, OSError):
            pass
    return Path(__file__).resolve().parents[2] / relative


def params_file(values: Mapping[str, str]) -> Path:
    return Path(argument_values(values)["params_file"] or package_file(PARAMS_FILE))


def yaml_scalar(value: Any) -> str:
    """`value` as a YAML scalar for ``-p name:=value`` (strings quoted, so '1' stays a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def ros_arguments(spec: NodeSpec, namespace: str, params_path: Path) -> list[str]:
    """The ``--ros-args`` of one node: name, namespace, parameter file, overrides, remappings."""
    args = ["--ros-args", "-r", f"__node:={spec.name}"]
    if namespace:
        args += ["-r", f"__ns:=/{namespace.strip('/')}"]
    args += ["--params-file", str(params_path)]
    for name, value in spec.overrides.items():
        args += ["-p", f"{name}:={yaml_scalar(value)}"]
    for source, target in spec.remappings:
        args += ["-r", f"{source}:={target}"]
    return args
