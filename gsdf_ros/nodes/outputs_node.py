"""``gsdf_outputs``: reconstructions in; ``/tf``, ``object_pose``, ``markers`` and ``/diagnostics`` out.

Pose results (``reconstruction``) become ONE ``tf2_msgs/TFMessage`` each, sent as soon as they
arrive: a frame per hand joint ``<prefix>hand_<joint>`` (rotation from IK, x along the bone), the
palm frame ``<prefix>hand`` and ``<prefix>object``, children of the result's camera frame, stamped
with its stamp; and a ``PoseStamped``. Mesh results (``reconstruction/meshes``) are handled in a
callback group of their own, on another executor thread, so a large mesh never delays ``/tf``.

Markers: joints and bones from poses (at most ``marker_rate_hz``); hand and object meshes from
every mesh result (they come at the mesh worker's own rate), expiring after
``mesh_marker_lifetime_s``; a mesh result without a mesh deletes that mesh's marker.

"No hand": a pose result without the hand's joints (below the inference node's hand score
threshold) sends no /tf and no object pose, deletes every marker (skeleton and both meshes) and
makes mesh results of earlier frames that arrive later be ignored; /diagnostics counts them.
"""

from __future__ import annotations

from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from gsdf.msg import HandObjectReconstruction
from gsdf_ros.nodes import diagnostics, params, runtime
from gsdf_ros.nodes.conversions import (
    MESH_NAMESPACES,
    SKELETON_NAMESPACES,
    delete_all_marker,
    delete_marker,
    mesh_markers,
    msg_to_reconstruction,
    skeleton_markers,
    stamp_to_ns,
    to_pose_stamped,
    to_tf_message,
)
from gsdf_ros.nodes.flow import RateLimiter, SequenceGaps
from gsdf_ros.nodes.pairing import stamp_order_reason
from gsdf_ros.nodes.validation import RejectCounter, RejectReason

NODE_NAME = "gsdf_outputs"
TF_QOS_DEPTH = 100
MESH_TOPIC = "reconstruction/meshes"
EXECUTOR_THREADS = 2

PARAMETERS = (
    params.ParamSpec("frame_prefix", "gsdf_", "prefix of the TF frames: <prefix>hand_<joint>, <prefix>hand (palm), "
                     "<prefix>object", read_only=True),
    params.ParamSpec("marker_rate_hz", 5.0, "most skeleton MarkerArray messages per second (0: none); mesh markers "
                     "follow every mesh result", min_value=0.0, max_value=100.0),
    params.ParamSpec("publish_meshes", True, "hand and object mesh markers (TRIANGLE_LIST) from reconstruction/meshes"),
    params.ParamSpec("mesh_marker_lifetime_s", 2.0, "mesh markers expire this long after their mesh unless a newer "
                     "one replaces them (0: never)", min_value=0.0, max_value=3600.0),
    params.ParamSpec("latency_warn_ms", 500.0, "diagnostics warn when the mean end-to-end latency exceeds this",
                     min_value=0.0, max_value=1e6),
    params.TIME_JUMP_BACK,
    params.INPUT_STALE,
    params.DIAGNOSTICS_PERIOD,
    params.DROP_WARN,
)
DROP_PLACES = ("lost in transport (reconstruction)", "lost in transport (meshes)", "rejected")


class TfSender:
    """tf2_ros.TransformBroadcaster when installed, else a plain /tf publisher with its QoS."""

    def __init__(self, node: Node) -> None:
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError:
            self._broadcaster = None
            self._publisher = node.create_publisher(TFMessage, "/tf", runtime.reliable_qos(TF_QOS_DEPTH))
        else:
            self._broadcaster = TransformBroadcaster(node, qos=runtime.reliable_qos(TF_QOS_DEPTH))

    def send(self, message: TFMessage) -> None:
        """Send all transforms of `message` as one TFMessage."""
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(list(message.transforms))
        else:
            self._publisher.publish(message)


class OutputsNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        p = params.declare(self, PARAMETERS)
        self._prefix = str(p["frame_prefix"])
        self._jump_back_ns = int(p["time_jump_back_s"] * 1e9)
        self._tf = TfSender(self)
        self._pose_pub = self.create_publisher(PoseStamped, "object_pose", runtime.reliable_qos(10))
        self._marker_pub = self.create_publisher(MarkerArray, "markers", runtime.reliable_qos(2))
        self._skeleton_markers = RateLimiter(float(p["marker_rate_hz"]))
        self._clear_markers = True  # DELETEALL with the first markers: nothing stale from a previous run
        self._last_stamp_ns: int | None = None
        self._last_mesh_stamp_ns: int | None = None
        self._rejects = RejectCounter()
        self._rate = diagnostics.RateMeter()
        self._mesh_rate = diagnostics.RateMeter()
        self._latency = diagnostics.LatencyStats()
        self._tf_delay = diagnostics.LatencyStats()
        self._drops = diagnostics.DropMeter(DROP_PLACES)
        self._gaps = {"pose": SequenceGaps(), "mesh": SequenceGaps()}
        self._published = 0
        self._without_hand = 0
        self._no_hand_stamp_ns: int | None = None
        self._meshes_withheld = 0
        pose_group, mesh_group = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        runtime.watched_subscription(self, HandObjectReconstruction, "reconstruction", self._on_reconstruction,
                                     runtime.reliable_qos(10), callback_group=pose_group)
        self.create_subscription(HandObjectReconstruction, MESH_TOPIC, self._on_meshes, runtime.reliable_qos(2),
                                 callback_group=mesh_group)
        diagnostics.DiagnosticsTask(self, self._report, p["diagnostics_period_s"])

    # --- poses ------------------------------------------------------------------------------
    def _on_reconstruction(self, msg: HandObjectReconstruction) -> None:
        received_ns = self.get_clock().now().nanoseconds
        self._rate.tick()
        self._drops.arrive()
        self._drops.drop("lost in transport (reconstruction)", self._gaps["pose"].add(int(msg.sequence)))
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._latency.add((received_ns - stamp_ns) / 1e6)
        try:
            self._publish_pose(msg, stamp_ns)
        except Exception as exc:  # one bad message must not stop the node
            reason = RejectReason.MALFORMED_MESSAGE if isinstance(exc, ValueError) else RejectReason.PROCESSING_ERROR
            self._reject(reason, f"{type(exc).__name__}: {exc}")
        self._tf_delay.add((self.get_clock().now().nanoseconds - received_ns) / 1e6)

    def _publish_pose(self, msg: HandObjectReconstruction, stamp_ns: int) -> None:
        reason = stamp_order_reason(self._last_stamp_ns, stamp_ns, self._jump_back_ns)
        if reason is RejectReason.TIME_JUMP_BACK:
            self._reject(reason, "time jumped back: markers cleared")
            self._clear_markers = True
            self._last_mesh_stamp_ns = None
            self._no_hand_stamp_ns = None
        elif reason is not None:
            self._reject(reason, "result not newer than the previous one")
            return
        if not msg.parts & HandObjectReconstruction.PART_HAND_JOINTS:
            self._last_stamp_ns = self._no_hand_stamp_ns = stamp_ns
            self._without_hand += 1
            header = Header(stamp=msg.header.stamp, frame_id=msg.header.frame_id)
            markers = [delete_marker(ns, header) for ns in SKELETON_NAMESPACES + MESH_NAMESPACES]
            self._marker_pub.publish(MarkerArray(markers=markers))
            return
        rec = msg_to_reconstruction(msg, with_meshes=False)
        if not rec.is_finite():
            self._reject(RejectReason.NON_FINITE, "result with NaN or Inf not published")
            return
        self._last_stamp_ns = stamp_ns
        self._tf.send(to_tf_message(rec, self._prefix))
        self._pose_pub.publish(to_pose_stamped(rec))
        self._published += 1
        if self._due(self._skeleton_markers):
            markers = ([delete_all_marker()] if self._clear_markers else []) + skeleton_markers(rec)
            self._clear_markers = False
            self._marker_pub.publish(MarkerArray(markers=markers))

    # --- meshes -----------------------------------------------------------------------------
    def _on_meshes(self, msg: HandObjectReconstruction) -> None:
        self._mesh_rate.tick()
        self._drops.drop("lost in transport (meshes)", self._gaps["mesh"].add(int(msg.sequence)))
        try:
            self._publish_meshes(msg)
        except Exception as exc:  # one bad message must not stop the node
            reason = RejectReason.MALFORMED_MESSAGE if isinstance(exc, ValueError) else RejectReason.PROCESSING_ERROR
            self._reject(reason, f"meshes: {type(exc).__name__}: {exc}")

    def _publish_meshes(self, msg: HandObjectReconstruction) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        last_ns = self._last_mesh_stamp_ns
        if last_ns is not None and stamp_order_reason(last_ns, stamp_ns, self._jump_back_ns) is not None \
                and last_ns - stamp_ns < self._jump_back_ns:
            return  # an older mesh than the one shown: skip it (not an error: the two topics are not ordered together)
        if not bool(self.get_parameter("publish_meshes").value):
            return
        if self._no_hand_stamp_ns is not None and stamp_ns <= self._no_hand_stamp_ns:
            self._meshes_withheld += 1  # the hand was gone in a later frame: do not show it again
            return
        rec = msg_to_reconstruction(msg, with_meshes=True)
        if not rec.is_finite():
            self._reject(RejectReason.NON_FINITE, "meshes with NaN or Inf not published")
            return
        self._last_mesh_stamp_ns = stamp_ns
        lifetime_s = float(self.get_parameter("mesh_marker_lifetime_s").value)
        self._marker_pub.publish(MarkerArray(markers=mesh_markers(rec, lifetime_s)))

    # --- helpers ----------------------------------------------------------------------------
    def _due(self, limiter: RateLimiter) -> bool:
        """True (and recorded) when markers of this kind may go out now."""
        limiter.rate_hz = float(self.get_parameter("marker_rate_hz").value)
        if not limiter.ready():
            return False
        limiter.done()
        return True

    def _reject(self, reason: RejectReason, detail: str) -> None:
        count = self._rejects.add(reason)
        if reason is not RejectReason.TIME_JUMP_BACK:
            self._drops.drop("rejected")
        self.get_logger().warning(f"{reason.value} ({count} so far): {detail}",
                                  throttle_duration_sec=runtime.LOG_THROTTLE_S)

    def _report(self) -> diagnostics.Report:
        stale_s = float(self.get_parameter("input_stale_s").value)
        report = diagnostics.input_report(self._rate, stale_s, "reconstruction")
        report.values["published"] = self._published
        report.values["mesh rate (Hz)"] = round(self._mesh_rate.rate_hz(), 2)
        report.values["meshes received"] = self._mesh_rate.total
        report.values["results without a hand"] = self._without_hand
        report.values["meshes withheld (hand gone)"] = self._meshes_withheld
        report.values.update(diagnostics.latency_values("end-to-end latency", self._latency))
        report.values.update(diagnostics.latency_values("receive to /tf", self._tf_delay))
        report.values["rejected"] = self._rejects.total
        report.values.update({f"rejected: {k}": v for k, v in self._rejects.as_dict().items()})
        self._drops.report(report, {"*": float(self.get_parameter("drop_warn_ratio").value)})
        mean = self._latency.summary().get("mean", 0.0)
        if mean > float(self.get_parameter("latency_warn_ms").value):
            report.worsen(diagnostics.WARN, f"end-to-end latency {mean:.0f} ms")
        return report


def main(args: list[str] | None = None) -> int:
    return runtime.run(OutputsNode, args, threads=EXECUTOR_THREADS)


if __name__ == "__main__":
    raise SystemExit(main())
