"""``gsdf_preprocess``: camera image + CameraInfo in, hand crop with its virtual camera out.

Subscribes ``image`` (``sensor_msgs/Image``, or ``image/compressed`` when ``compressed`` is set)
and ``camera_info`` with sensor-data QoS, pairs them by stamp, validates, cuts a square crop
with the exact virtual-camera homography and publishes ``gsdf/CropFrame`` on ``crop``. In
``tracked`` mode the box follows the joints of the last message on ``reconstruction``. In ``detect``
mode (the default) it crops nothing: the validated, paired whole frame goes out (``whole_frame``
set, the camera's own K, identity rotation) and the inference node finds and tracks the hand.

Reliability ``auto`` subscribes reliable unless the camera offers only best effort: a 640x480
frame is about 15 UDP fragments, and best effort loses the frame with any one of them. Frames that
never arrive (stamp gaps), images without a matching camera_info and rejected frames are counted
per place in /diagnostics, which warns above ``drop_warn_ratio``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from gsdf.msg import CropFrame, HandObjectReconstruction
from gsdf_ros.geometry import Intrinsics, VirtualCrop, virtual_crop, warp_crop
from gsdf_ros.nodes import diagnostics, params, runtime
from gsdf_ros.nodes.conversions import joints_from_msg, make_crop_frame, make_whole_frame, stamp_to_ns
from gsdf_ros.nodes.cropping import DETECT_MODE, LIVE_CROP_MODES, TrackedHand, choose_box, full_frame_box
from gsdf_ros.nodes.flow import StampGaps
from gsdf_ros.nodes.image_conversion import decode_compressed_rgb8, image_to_numpy, to_rgb8
from gsdf_ros.nodes.pairing import PairResult, StampPairer
from gsdf_ros.nodes.validation import CameraFacts, RejectCounter, RejectReason, check_frame, check_intrinsics

NODE_NAME = "gsdf_preprocess"

PARAMETERS = (
    params.ParamSpec("image_reliability", "auto", "QoS reliability of the image and camera_info subscriptions "
                     "(auto: reliable unless the camera offers only best effort)", read_only=True,
                     choices=runtime.RELIABILITY_CHOICES),
    params.ParamSpec("image_queue_depth", 5, "QoS depth of the image and camera_info subscriptions", read_only=True,
                     min_value=1, max_value=100),
    params.ParamSpec("compressed", False, "subscribe to image/compressed (sensor_msgs/CompressedImage) instead of "
                     "image", read_only=True),
    params.ParamSpec(
        "crop_mode",
        DETECT_MODE,
        "detect: the whole frame to the inference node, which detects and tracks the hand; full: whole frame; "
        "roi: the fixed roi; tracked: around the last reconstructed hand (full frame when stale)",
        choices=LIVE_CROP_MODES,
    ),
    params.ParamSpec("roi", [0.0, 0.0, 0.0], "fixed crop box [x0, y0, size] in source pixels for crop_mode roi "
                     "(size 0: full frame)"),
    params.CROP_SIZE,
    params.ParamSpec("track_padding_px", 10.0, "tracked box: padding around the projected joints per side, source "
                     "pixels", min_value=0.0, max_value=1000.0),
    params.ParamSpec("track_enlarge", 1.5, "tracked box: enlargement of the padded square box",
                     min_value=1.0, max_value=5.0),
    params.ParamSpec("track_timeout_s", 0.5, "tracked box: a reconstruction older than this falls back to the full "
                     "frame", min_value=0.0, max_value=60.0),
    params.ParamSpec("pair_tolerance_s", 0.0, "largest stamp difference that pairs an image with a camera_info "
                     "(0: exact)", read_only=True, min_value=0.0, max_value=1.0),
    params.ParamSpec("pair_queue_size", 10, "unpaired messages kept per stream", read_only=True,
                     min_value=1, max_value=1000),
    params.ParamSpec("publish_crop_image", False, "also publish the crop as sensor_msgs/Image on crop/image "
                     "(for RViz)", read_only=True),
    params.TIME_JUMP_BACK,
    params.INPUT_STALE,
    params.DIAGNOSTICS_PERIOD,
    params.DROP_WARN,
)
DROP_PLACES = ("missed (stamp gaps)", "unpaired", "rejected")


def camera_facts(info: CameraInfo) -> CameraFacts:
    return CameraFacts(int(info.width), int(info.height), list(info.k), stamp_to_ns(info.header.stamp))


class PreprocessNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        p = params.declare(self, PARAMETERS)
        self._compressed = bool(p["compressed"])
        self._crop_size = int(p["crop_size"])
        jump_ns = int(p["time_jump_back_s"] * 1e9)
        self._pairer: StampPairer[Any, CameraInfo] = StampPairer(
            int(p["pair_queue_size"]), int(p["pair_tolerance_s"] * 1e9), jump_ns
        )
        self._rejects = RejectCounter()
        self._rate = diagnostics.RateMeter()
        self._drops = diagnostics.DropMeter(DROP_PLACES)
        self._gaps = StampGaps()
        self._sequence = 0
        self._hand: TrackedHand | None = None
        self._last_mode = ""

        reliability, depth = str(p["image_reliability"]), int(p["image_queue_depth"])
        self._crop_pub = self.create_publisher(CropFrame, "crop", runtime.reliable_qos(10))
        self._crop_image_pub = (
            self.create_publisher(Image, "crop/image", runtime.reliable_qos(2)) if p["publish_crop_image"] else None
        )
        image_type, image_topic = (CompressedImage, "image/compressed") if self._compressed else (Image, "image")
        self._image_sub = runtime.AdaptiveSubscription(self, image_type, image_topic, self._on_image,
                                                       reliability, depth)
        self._info_sub = runtime.AdaptiveSubscription(self, CameraInfo, "camera_info", self._on_info,
                                                      reliability, depth)
        self.create_subscription(HandObjectReconstruction, "reconstruction", self._on_reconstruction,
                                 runtime.reliable_qos(2))
        diagnostics.DiagnosticsTask(self, self._report, p["diagnostics_period_s"])

    # --- inputs ---------------------------------------------------------------------------
    def _on_image(self, msg: Any) -> None:
        self._rate.tick()
        self._drops.arrive()
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._drops.drop("missed (stamp gaps)", self._gaps.add(stamp_ns))
        self._offer(lambda: self._pairer.add_image(stamp_ns, msg))

    def _on_info(self, msg: CameraInfo) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._offer(lambda: self._pairer.add_info(stamp_ns, msg))

    def _on_reconstruction(self, msg: HandObjectReconstruction) -> None:
        joints = joints_from_msg(msg)
        if joints is not None and np.all(np.isfinite(joints)):
            self._hand = TrackedHand(stamp_to_ns(msg.header.stamp), msg.header.frame_id, joints)

    def _offer(self, add: Callable[[], PairResult]) -> None:
        """Add one message to the pairer and process a completed pair; errors are counted, never fatal."""
        try:
            result = add()
            for _ in range(result.unpaired):
                self._rejects.add(RejectReason.UNPAIRED)
            self._drops.drop("unpaired", result.unpaired)
            if result.reject is RejectReason.TIME_JUMP_BACK:
                self._reject(result.reject, "time jumped back: pairing and tracking state cleared")
                self._pairer.reset()
                self._gaps.reset()
                self._hand = None
                result = add()
            elif result.reject is not None:
                self._reject(result.reject, "stamp not after the previous one of its stream")
                return
            if result.pair is not None:
                self._process(*result.pair)
        except Exception as exc:  # one bad message must not stop the node
            self._reject(RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")

    def _reject(self, reason: RejectReason, detail: str) -> None:
        count = self._rejects.add(reason)
        if reason is not RejectReason.TIME_JUMP_BACK:
            self._drops.drop("rejected")
        self.get_logger().warning(f"input rejected ({reason.value}, {count} so far): {detail}",
                                  throttle_duration_sec=runtime.LOG_THROTTLE_S)

    # --- one frame ------------------------------------------------------------------------
    def _process(self, image: Any, info: CameraInfo) -> None:
        camera = camera_facts(info)
        stamp_ns = stamp_to_ns(image.header.stamp)
        rgb = self._decode(image, camera, stamp_ns)
        if rgb is None:
            return
        header = Header(stamp=image.header.stamp, frame_id=info.header.frame_id)
        if self.get_parameter("crop_mode").value == DETECT_MODE:
            msg = self._whole_frame(header, rgb, info, camera)
        else:
            with np.errstate(all="ignore"):  # extreme intrinsics are refused below, not warned about per frame
                crop = self._crop_camera(info, camera, stamp_ns)
            size = (camera.width, camera.height)
            msg = None if crop is None else make_crop_frame(header, warp_crop(rgb, crop), crop, size, self._sequence)
        if msg is None:
            return
        self._sequence += 1
        self._crop_pub.publish(msg)
        if self._crop_image_pub is not None:
            self._crop_image_pub.publish(msg.image)

    def _whole_frame(self, header: Header, rgb: np.ndarray, info: CameraInfo, camera: CameraFacts) -> CropFrame | None:
        """The whole validated frame as a ``CropFrame`` (crop_mode detect); None (counted) when K has no
        usable full-frame box."""
        k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
        try:
            box = full_frame_box(Intrinsics.from_matrix(k, camera.width, camera.height))
        except ValueError as exc:
            self._reject(RejectReason.BAD_INTRINSICS, f"no usable camera: {exc}")
            return None
        self._note_mode(DETECT_MODE)
        return make_whole_frame(header, rgb, k, box, self._sequence)

    def _note_mode(self, mode: str) -> None:
        """Log the crop mode in use whenever it changes."""
        if mode != self._last_mode:
            self.get_logger().info(f"cropping with mode '{mode}'")
            self._last_mode = mode

    def _crop_camera(self, info: CameraInfo, camera: CameraFacts, stamp_ns: int) -> VirtualCrop | None:
        """The virtual camera of this frame's crop; None (counted) when K yields no usable one."""
        try:
            k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
            intrinsics = Intrinsics.from_matrix(k, camera.width, camera.height)
            box, mode = choose_box(
                self.get_parameter("crop_mode").value,
                intrinsics,
                list(self.get_parameter("roi").value),
                self._hand,
                info.header.frame_id,
                stamp_ns,
                int(self.get_parameter("track_timeout_s").value * 1e9),
                float(self.get_parameter("track_padding_px").value),
                float(self.get_parameter("track_enlarge").value),
            )
            crop = virtual_crop(intrinsics, box, self._crop_size)
        except ValueError as exc:
            self._reject(RejectReason.BAD_INTRINSICS, f"no usable crop camera: {exc}")
            return None
        if check_intrinsics(crop.intrinsics.matrix().reshape(-1)) is not None or not np.all(np.isfinite(crop.rotation)):
            self._reject(RejectReason.BAD_INTRINSICS, "the crop camera of these intrinsics is not finite")
            return None
        self._note_mode(mode)
        return crop

    def _decode(self, image: Any, camera: CameraFacts, stamp_ns: int) -> np.ndarray | None:
        """The frame as RGB when it is valid for `camera`; None (counted) otherwise."""
        try:
            if self._compressed:
                rgb = decode_compressed_rgb8(image.data)
                reason = check_frame(None, rgb.shape[1], rgb.shape[0], stamp_ns, camera)
            else:
                reason = check_frame(image.encoding, int(image.width), int(image.height), stamp_ns, camera)
                rgb = None if reason else to_rgb8(image_to_numpy(image), image.encoding)
        except ValueError as exc:
            self._reject(RejectReason.MALFORMED_IMAGE, str(exc))
            return None
        if reason is not None:
            encoding = getattr(image, "encoding", "compressed")
            self._reject(reason, f"image {encoding} vs camera_info {camera.width}x{camera.height}")
            return None
        return rgb

    # --- diagnostics ----------------------------------------------------------------------
    def _report(self) -> diagnostics.Report:
        report = diagnostics.input_report(self._rate, float(self.get_parameter("input_stale_s").value), "image")
        report.values["crops published"] = self._sequence
        report.values["crop mode"] = self._last_mode or "none yet"
        report.values["image reliability"] = self._image_sub.reliability
        self._drops.report(report, {"*": float(self.get_parameter("drop_warn_ratio").value)})
        report.values["rejected"] = self._rejects.total
        report.values.update({f"rejected: {k}": v for k, v in self._rejects.as_dict().items()})
        return report


def main(args: list[str] | None = None) -> int:
    return runtime.run(PreprocessNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
