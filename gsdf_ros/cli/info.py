"""``gsdf-info``: print what this installation of gsdf can do (versions, devices, ROS)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform

import gsdf_ros


def _version(module: str) -> str | None:
    """Version string of an importable module, or None when it cannot be imported."""
    try:
        mod = importlib.import_module(module)
    except Exception:  # an optional dependency may fail in many ways; report it as absent
        return None
    return str(getattr(mod, "__version__", "present"))


def collect() -> dict[str, object]:
    """Versions of the core dependencies, the torch devices and the ROS 2 pieces available."""
    info: dict[str, object] = {
        "gsdf_ros": gsdf_ros.__version__,
        "python": platform.python_version(),
        "packages": {m: _version(m) for m in ("numpy", "scipy", "torch", "trimesh", "skimage", "cv2", "timm")},
        "ros": {
            "distro": os.environ.get("ROS_DISTRO"),
            "domain_id": os.environ.get("ROS_DOMAIN_ID", "0"),
            "discovery_range": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"),
            "modules": {m: _version(m) is not None for m in ("rclpy", "gsdf.msg", "tf2_msgs.msg")},
        },
    }
    try:
        import torch

        info["torch_cuda"] = torch.cuda.is_available()
        info["torch_cuda_build"] = torch.version.cuda
    except ImportError:
        info["torch_cuda"] = False
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gsdf-info", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
