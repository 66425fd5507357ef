"""``gsdf-bringup``: start the gsdf graph without ``ros2 launch``.

Starts the nodes of :mod:`gsdf_ros.nodes.graph` as ``python -m gsdf_ros.nodes.<module>``
subprocesses with the same parameter file, overrides and remappings as
``launch/bringup.launch.py``, restarts a node that dies (back-off doubling up to
``MAX_BACKOFF_S``), forwards SIGINT/SIGTERM to the nodes and exits when they have stopped.
Children inherit the environment unchanged (the ROS wheels rely on it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from gsdf_ros.nodes import graph

FIRST_BACKOFF_S = 0.25  # a first crash restarts at once; a crash loop backs off (doubling)
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 30.0  # a node that ran this long restarts with the first back-off again
STOP_GRACE_S = 5.0
POLL_S = 0.2


def node_command(spec: graph.NodeSpec, namespace: str, params_path: Path) -> list[str]:
    """The command line that starts one node."""
    return [sys.executable, "-m", f"gsdf_ros.nodes.{spec.module}", *graph.ros_arguments(spec, namespace, params_path)]


def commands(values: dict[str, str]) -> dict[str, list[str]]:
    """Node name -> command line, for the given launch-argument values."""
    v = graph.argument_values(values)
    path = graph.params_file(v)
    return {spec.name: node_command(spec, v["namespace"], path) for spec in graph.nodes(v)}


def next_backoff(previous_s: float, ran_s: float) -> float:
    """Delay before the next restart: doubles after short runs, resets after a healthy run."""
    if ran_s >= HEALTHY_AFTER_S or previous_s <= 0:
        return FIRST_BACKOFF_S
    return min(MAX_BACKOFF_S, previous_s * 2.0)


@dataclass
class Child:
    """One supervised node process."""

    name: str
    command: list[str]
    respawn: bool
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff_s: float = 0.0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        # Own session: a terminal Ctrl-C reaches only the supervisor, which forwards it once.
        self.process = subprocess.Popen(self.command, env=dict(os.environ), start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = False

    def request_stop(self, signum: int, _frame: object = None) -> None:
        self.stopping = True

    def step(self, now: float) -> None:
        """Schedule restarts of dead nodes and start those whose back-off has passed."""
        for child in self.children:
            if child.running():
                continue
            if child.restart_at is None and child.process is not None:
                if not child.respawn:
                    continue
                child.backoff_s = next_backoff(child.backoff_s, now - child.started_at)
                child.restart_at = now + child.backoff_s
                log(f"{child.name} exited with code {child.process.returncode}; restarting in {child.backoff_s:.0f} s")
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                child.start()

    def stop(self) -> None:
        """SIGINT every node, then SIGTERM and SIGKILL what is still running after a grace period."""
        for sig, grace in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            alive = [c for c in self.children if c.running()]
            for child in alive:
                child.process.send_signal(sig)
            deadline = time.monotonic() + grace
            while any(c.running() for c in alive) and time.monotonic() < deadline:
                time.sleep(0.05)

    def run(self) -> int:
        for child in self.children:
            log(f"starting {child.name}: {' '.join(child.command)}")
            child.start()
        while not self.stopping:
            self.step(time.monotonic())
            time.sleep(POLL_S)
        log("stopping")
        self.stop()
        return 0


def log(text: str) -> None:
    print(f"[gsdf-bringup] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gsdf-bringup", description=__doc__.splitlines()[0])
    for argument in graph.LAUNCH_ARGUMENTS:
        parser.add_argument(f"--{argument.name.replace('_', '-')}", dest=argument.name, default=argument.default,
                            help=argument.description)
    parser.add_argument("--dry-run", action="store_true", help="print the node commands and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    values = graph.argument_values({a.name: getattr(args, a.name) for a in graph.LAUNCH_ARGUMENTS})
    specs = {s.name: s for s in graph.nodes(values)}
    cmds = commands(values)
    if args.dry_run:
        for command in cmds.values():
            print(" ".join(command))
        return 0
    children = [Child(name, cmd, specs[name].respawn) for name, cmd in cmds.items()]
    if graph.parse_bool(values["rviz"]):
        rviz = shutil.which("rviz2")
        if rviz:
            children.append(Child("rviz2", [rviz, "-d", str(graph.package_file(graph.RVIZ_FILE))], respawn=False))
        else:
            log("rviz:=true but rviz2 is not installed; continuing without it")
    supervisor = Supervisor(children)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
