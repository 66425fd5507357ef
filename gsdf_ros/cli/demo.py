"""``gsdf-demo``: the package's main job on its embedded default.

At this stage of the package it checks the installation end to end: versions and devices
(``gsdf-info``), then a real two-process ROS 2 round trip of the reconstruction and TF messages
on a ROS domain of its own, and ends with one summary line.
"""

from __future__ import annotations

import argparse
import os

from gsdf_ros.cli import info
from gsdf_ros.ros_domain import claim_domain_id, isolated_ros_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gsdf-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the round trip")
    args = parser.parse_args(argv)
    info.main([])
    claim = claim_domain_id()
    os.environ.update(isolated_ros_environment(claim))
    try:
        from gsdf_ros.nodes import selfcheck

        return selfcheck.main(["run", str(args.timeout)])
    finally:
        claim.release()


if __name__ == "__main__":
    raise SystemExit(main())
