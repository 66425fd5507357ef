"""``gsdf_outputs``: reconstructions in; ``/tf``, ``object_pose``, ``markers`` and ``/diagnostics`` out.

Every result becomes ONE ``tf2_msgs/TFMessage`` (a frame per hand joint ``<prefix>hand_<joint>``
and ``<prefix>object``, children of the result's camera frame, stamped with its stamp) and a
``PoseStamped``; RViz markers follow at most ``marker_rate_hz``.
"""

from __future__ import annotations

from typing import Any

from gsdf.msg import HandObjectReconstruction
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from gsdf_ros.nodes import diagnostics, params, runtime
from gsdf_ros.nodes.conversions import msg_to_reconstruction, stamp_to_ns, to_marker_array, to_pose_stamped, to_tf_message
from gsdf_ros.nodes.flow import RateLimiter
from gsdf_ros.nodes.pairing import stamp_order_reason
from gsdf_ros.nodes.validation import RejectCounter, RejectReason

NODE_NAME = "gsdf_outputs"
TF_QOS_DEPTH = 100

PARAMETERS = (
    params.ParamSpec("frame_prefix", "gsdf_", "prefix of the TF frames: <prefix>hand_<joint>, <prefix>object", read_only=True),
    params.ParamSpec("marker_rate_hz", 5.0, "most MarkerArray messages per second (0: no markers)", min_value=0.0, max_value=100.0),
    params.ParamSpec("publish_meshes", True, "include hand and object mesh markers (TRIANGLE_LIST)"),
    params.ParamSpec("latency_warn_ms", 500.0, "diagnostics warn when the mean end-to-end latency exceeds this", min_value=0.0, max_value=1e6),
    params.TIME_JUMP_BACK,
    params.INPUT_STALE,
    params.DIAGNOSTICS_PERIOD,
)


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
        self._markers = RateLimiter(float(p["marker_rate_hz"]))
        self._clear_markers = True  # DELETEALL with the first markers: nothing stale from a previous run
        self._last_stamp_ns: int | None = None
        self._last_mesh_stamp_ns = 0
        self._rejects = RejectCounter()
        self._rate = diagnostics.RateMeter()
        self._latency = diagnostics.LatencyStats()
        self._published = 0
        runtime.watched_subscription(self, HandObjectReconstruction, "reconstruction", self._on_reconstruction, runtime.reliable_qos(10))
        diagnostics.DiagnosticsTask(self, self._report, p["diagnostics_period_s"])

    def _on_reconstruction(self, msg: HandObjectReconstruction) -> None:
        self._rate.tick()
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._latency.add((self.get_clock().now().nanoseconds - stamp_ns) / 1e6)
        try:
            self._publish(msg, stamp_ns)
        except Exception as exc:  # one bad message must not stop the node
            self._reject(RejectReason.MALFORMED_MESSAGE if isinstance(exc, ValueError) else RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")

    def _publish(self, msg: HandObjectReconstruction, stamp_ns: int) -> None:
        reason = stamp_order_reason(self._last_stamp_ns, stamp_ns, self._jump_back_ns)
        if reason is RejectReason.TIME_JUMP_BACK:
            self._reject(reason, "time jumped back: markers cleared")
            self._clear_markers = True
        elif reason is not None:
            self._reject(reason, "result not newer than the previous one")
            return
        markers_due = self._markers_due()
        mesh_stamp_ns = stamp_to_ns(msg.mesh_stamp)
        with_meshes = markers_due and bool(self.get_parameter("publish_meshes").value) and mesh_stamp_ns != self._last_mesh_stamp_ns
        rec = msg_to_reconstruction(msg, with_meshes=with_meshes)
        if not rec.is_finite():
            self._reject(RejectReason.NON_FINITE, "result with NaN or Inf not published")
            return
        self._last_stamp_ns = stamp_ns
        self._tf.send(to_tf_message(rec, self._prefix))
        self._pose_pub.publish(to_pose_stamped(rec))
        if markers_due:
            self._marker_pub.publish(to_marker_array(rec, with_meshes=with_meshes, delete_all_first=self._clear_markers))
            self._clear_markers = False
            self._markers.done()
            if with_meshes and (rec.hand_mesh is not None or rec.object_mesh is not None):
                self._last_mesh_stamp_ns = mesh_stamp_ns
        self._published += 1

    def _markers_due(self) -> bool:
        self._markers.rate_hz = float(self.get_parameter("marker_rate_hz").value)
        return self._markers.ready()

    def _reject(self, reason: RejectReason, detail: str) -> None:
        count = self._rejects.add(reason)
        self.get_logger().warning(f"{reason.value} ({count} so far): {detail}", throttle_duration_sec=runtime.LOG_THROTTLE_S)

    def _report(self) -> diagnostics.Report:
        report = diagnostics.input_report(self._rate, float(self.get_parameter("input_stale_s").value), "reconstruction")
        report.values["published"] = self._published
        report.values.update(diagnostics.latency_values("end-to-end latency", self._latency))
        report.values["rejected"] = self._rejects.total
        report.values.update({f"rejected: {k}": v for k, v in self._rejects.as_dict().items()})
        mean = self._latency.summary().get("mean", 0.0)
        if mean > float(self.get_parameter("latency_warn_ms").value):
            report.worsen(diagnostics.WARN, f"end-to-end latency {mean:.0f} ms")
        return report


def main(args: list[str] | None = None) -> int:
    return runtime.run(OutputsNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
