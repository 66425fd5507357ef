"""What every gsdf node shares: QoS profiles, publisher-match logging and ``main()``."""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from typing import Any, Callable

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions

RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
RELIABILITY_CHOICES = ("auto", "reliable", "best_effort")
"""auto: reliable, unless a publisher of the topic offers only best effort (then best effort)."""
LOG_THROTTLE_S = 5.0
MATCH_REPORT_DELAY_S = 2.0
EXECUTOR_SHUTDOWN_S = 5.0  # longest wait for running callbacks when a node stops


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


def watched_subscription(
    node: Node, msg_type: Any, topic: str, callback: Callable[[Any], None], qos: QoSProfile,
    on_incompatible_qos: Callable[[], None] | None = None, callback_group: Any = None,
) -> Any:
    """A subscription that logs how many publishers match, when that changes, and QoS conflicts.

    Silent QoS mismatches (a reliable subscriber on a best-effort camera) show up in the log
    instead of as a node that never receives anything.
    """
    resolved = node.resolve_topic_name(topic)

    def on_matched(info: Any) -> None:
        if info.current_count_change:
            node.get_logger().info(
                f"{resolved}: {info.current_count} publisher(s) matched ({info.current_count_change:+d})"
            )

    def on_incompatible(info: Any) -> None:
        node.get_logger().warning(
            f"{resolved}: a publisher has incompatible QoS (policy {info.last_policy_kind}); "
            f"this subscription asks for {qos.reliability.name.lower()} — set the reliability parameter to match"
        )
        if on_incompatible_qos is not None:
            on_incompatible_qos()

    events = SubscriptionEventCallbacks(matched=on_matched, incompatible_qos=on_incompatible)
    subscription = node.create_subscription(msg_type, topic, callback, qos, event_callbacks=events,
                                            callback_group=callback_group)

    def report_once() -> None:
        timer.cancel()
        count = node.count_publishers(resolved)
        log = node.get_logger().info if count else node.get_logger().warning
        hint = "" if count else " — check the remapping"
        log(f"{resolved}: {count} publisher(s) matched {MATCH_REPORT_DELAY_S:.0f} s after start{hint}")

    timer = node.create_timer(MATCH_REPORT_DELAY_S, report_once)
    return subscription


def publisher_reliabilities(node: Node, topic: str) -> list[str]:
    """'reliable' / 'best_effort' of each publisher currently on `topic`."""
    found = []
    for info in node.get_publishers_info_by_topic(node.resolve_topic_name(topic)):
        found.append("best_effort" if info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT else "reliable")
    return found


def choose_reliability(requested: str, offered: list[str]) -> str:
    """The reliability to subscribe with: `requested`, or for 'auto' reliable unless a publisher offers
    only best effort. Reliable keeps large frames (a 640x480 image is ~15 UDP fragments) that best
    effort loses whenever one fragment is lost."""
    if requested != "auto":
        return requested
    return "best_effort" if "best_effort" in offered else "reliable"


class AdaptiveSubscription:
    """A sensor subscription whose reliability follows the ``auto`` rule, re-made with best effort
    when a best-effort-only publisher appears later (an incompatible-QoS event), with a warning."""

    def __init__(
        self, node: Node, msg_type: Any, topic: str, callback: Callable[[Any], None], requested: str, depth: int
    ) -> None:
        self._node, self._type, self._topic, self._callback, self._depth = node, msg_type, topic, callback, depth
        self.requested = requested
        self.reliability = choose_reliability(requested, publisher_reliabilities(node, topic))
        self._switch_timer = None
        self.subscription = watched_subscription(node, msg_type, topic, callback, sensor_qos(self.reliability, depth),
                                                 self._on_incompatible)
        node.get_logger().info(
            f"{node.resolve_topic_name(topic)}: subscribing {self.reliability} (image_reliability {requested})"
        )

    def _on_incompatible(self) -> None:
        if self.requested != "auto" or self.reliability == "best_effort" or self._switch_timer is not None:
            return
        self._switch_timer = self._node.create_timer(0.0, self._switch_to_best_effort)

    def _switch_to_best_effort(self) -> None:
        self._switch_timer.cancel()
        self._node.destroy_subscription(self.subscription)
        self.reliability = "best_effort"
        self.subscription = watched_subscription(self._node, self._type, self._topic, self._callback,
                                                 sensor_qos("best_effort", self._depth))
        self._node.get_logger().warning(
            f"{self._node.resolve_topic_name(self._topic)}: a publisher offers only best effort; "
            "now subscribing best effort "
            "(large frames may be lost in transport: they are counted as missed)"
        )


def run(make_node: Callable[[], Node], args: list[str] | None = None, threads: int = 1) -> int:
    """Init rclpy, make the node, spin it until Ctrl-C, SIGTERM or shutdown (``threads`` > 1: a
    multi-threaded executor, for nodes whose callback groups must not wait for each other), clean up.

    Stopping is orderly: on a signal the executor stops, its threads are joined, the node is closed
    and destroyed, and only then is the context shut down (rclpy's own signal handler would shut the
    context down first, and destroying a node after that can crash the process).

    Start-up and run time are told apart in the log: a node that cannot be made logs ``cannot
    start`` (no traceback for a :class:`StartupError`); an exception while spinning logs ``stopped
    by a run-time error`` with its traceback. Returns 0, the :class:`StartupError`'s exit code, or 1.
    """
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    logger = rclpy.logging.get_logger("gsdf")
    node = None
    try:
        node = _start(make_node, logger)
        return 0 if node is None else _spin(node, threads, logger)
    except _StartFailed as failed:
        return failed.exit_code
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close:
                close()
            node.destroy_node()
        rclpy.try_shutdown()


class _StartFailed(Exception):
    """A start-up failure already logged; carries the exit code."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def _start(make_node: Callable[[], Node], logger: Any) -> Node | None:
    """The node, None after Ctrl-C during start-up; a start-up failure is logged as ``cannot start``."""
    try:
        return make_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        return None
    except (StartupError, ValueError, FileNotFoundError, NotImplementedError) as exc:
        logger.fatal(f"cannot start: {exc}")
        raise _StartFailed(getattr(exc, "exit_code", 1)) from None
    except Exception:
        logger.fatal(f"cannot start, unexpected error:\n{traceback.format_exc()}")
        raise _StartFailed(1) from None


def _spin(node: Node, threads: int, logger: Any) -> int:
    """Spin in a thread until SIGINT/SIGTERM or shutdown (0); a run-time exception is logged as such (1).

    The executor is shut down and its threads joined before returning, so no callback still runs
    when the node is destroyed.
    """
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
    executor.add_node(node)
    stop = threading.Event()
    errors: list[str] = []

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass
        except Exception:
            errors.append(traceback.format_exc())
        finally:
            stop.set()

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    spinner = threading.Thread(target=spin, name="executor", daemon=True)
    try:
        spinner.start()
        stop.wait()
    finally:
        executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_S)
        spinner.join(EXECUTOR_SHUTDOWN_S)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if errors:
        logger.fatal(f"stopped by a run-time error:\n{errors[0]}")
        return 1
    return 0
