"""What every gsdf node shares: QoS profiles, publisher-match logging and ``main()``."""

from __future__ import annotations

import sys
from typing import Any, Callable

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
LOG_THROTTLE_S = 5.0
MATCH_REPORT_DELAY_S = 2.0


class StartupError(Exception):
    """A node cannot start for a reason the user must fix; logged as one fatal line, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def sensor_qos(reliability: str, depth: int) -> QoSProfile:
    """Sensor-data QoS (volatile, keep last `depth`) with the given reliability."""
    profile = QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=RELIABILITY[reliability])
    profile.durability = qos_profile_sensor_data.durability
    return profile


def reliable_qos(depth: int = 10) -> QoSProfile:
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def watched_subscription(node: Node, msg_type: Any, topic: str, callback: Callable[[Any], None], qos: QoSProfile) -> Any:
    """A subscription that logs how many publishers match, when that changes, and QoS conflicts.

    Silent QoS mismatches (a reliable subscriber on a best-effort camera) show up in the log
    instead of as a node that never receives anything.
    """
    resolved = node.resolve_topic_name(topic)

    def on_matched(info: Any) -> None:
        if info.current_count_change:
            node.get_logger().info(f"{resolved}: {info.current_count} publisher(s) matched ({info.current_count_change:+d})")

    def on_incompatible(info: Any) -> None:
        node.get_logger().warning(
            f"{resolved}: a publisher has incompatible QoS (policy {info.last_policy_kind}); "
            f"this subscription asks for {qos.reliability.name.lower()} — set the reliability parameter to match"
        )

    events = SubscriptionEventCallbacks(matched=on_matched, incompatible_qos=on_incompatible)
    subscription = node.create_subscription(msg_type, topic, callback, qos, event_callbacks=events)

    def report_once() -> None:
        timer.cancel()
        count = node.count_publishers(resolved)
        log = node.get_logger().info if count else node.get_logger().warning
        log(f"{resolved}: {count} publisher(s) matched {MATCH_REPORT_DELAY_S:.0f} s after start" + ("" if count else " — check the remapping"))

    timer = node.create_timer(MATCH_REPORT_DELAY_S, report_once)
    return subscription


def run(make_node: Callable[[], Node], args: list[str] | None = None) -> int:
    """Init rclpy, spin the node until Ctrl-C or shutdown, clean up.

    Returns 0, the :class:`StartupError`'s exit code, or 1 for another start-up problem.
    """
    rclpy.init(args=sys.argv if args is None else args)
    node = None
    code = 0
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, ValueError, FileNotFoundError, NotImplementedError) as exc:
        rclpy.logging.get_logger("gsdf").fatal(f"cannot start: {exc}")
        code = getattr(exc, "exit_code", 1)
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code
