"""Node parameters described once as data: declared with descriptions and ranges, listed in YAML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name, default (its type is the parameter's type), description, limits."""

    name: str
    default: Any
    description: str
    read_only: bool = False
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> str | None:
        """Why `value` is not allowed, or None."""
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min_value is not None and value < self.min_value:
                return f"{self.name} must be >= {self.min_value}, got {value!r}"
            if self.max_value is not None and value > self.max_value:
                return f"{self.name} must be <= {self.max_value}, got {value!r}"
        return None


def defaults(specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Parameter name -> default."""
    return {s.name: s.default for s in specs}


def declare(node: Any, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Declare `specs` on an rclpy node (descriptions, ranges, read-only) and return their values.

    Values outside their range or choices raise ValueError at start; later changes are checked by
    the callback this installs, so a node never runs with a value its spec forbids.
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult

    specs = tuple(specs)
    by_name = {s.name: s for s in specs}
    for spec in specs:
        descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
        if spec.choices:
            descriptor.additional_constraints = f"one of: {', '.join(spec.choices)}"
        if spec.min_value is not None and spec.max_value is not None:
            if isinstance(spec.default, float):
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=float(spec.min_value), to_value=float(spec.max_value))
                ]
            elif isinstance(spec.default, int) and not isinstance(spec.default, bool):
                descriptor.integer_range = [
                    IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)
                ]
        node.declare_parameter(spec.name, spec.default, descriptor)
    values = {s.name: node.get_parameter(s.name).value for s in specs}
    problems = [p for s in specs if (p := s.check(values[s.name]))]
    if problems:
        raise ValueError("; ".join(problems))

    def on_set(parameters: list) -> SetParametersResult:
        for parameter in parameters:
            spec = by_name.get(parameter.name)
            problem = spec.check(parameter.value) if spec else None
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    return values


# Parameters several nodes share (one meaning, one default).
CROP_SIZE = ParamSpec(
    "crop_size",
    256,
    "side of the hand crop fed to the model, pixels (cut by preprocess; by the inference node in crop_mode detect)",
    read_only=True,
    min_value=16,
    max_value=2048,
)
DIAGNOSTICS_PERIOD = ParamSpec("diagnostics_period_s", 1.0, "seconds between /diagnostics messages", read_only=True,
                               min_value=0.1, max_value=60.0)
INPUT_STALE = ParamSpec("input_stale_s", 2.0, "diagnostics warn when no input arrived for this many seconds",
                        min_value=0.1, max_value=3600.0)
TIME_JUMP_BACK = ParamSpec(
    "time_jump_back_s",
    1.0,
    "a stamp at least this much older than the previous one is a jump back in time (bag loop, simulator reset): "
    "state is cleared",
    read_only=True,
    min_value=0.001,
    max_value=3600.0,
)
DROP_WARN = ParamSpec(
    "drop_warn_ratio",
    0.05,
    "diagnostics warn when more than this fraction of the frames that arrived in the last 10 s was dropped at one "
    "place (pairing, transport gaps, queues)",
    min_value=0.0,
    max_value=1.0,
)
