"""``gsdf_demo_camera``: plays SynthHO clips, an image folder, a video file or a rosbag2 bag as a camera.

Publishes ``image`` (``sensor_msgs/Image``, rgb8) and ``camera_info`` with the same stamp at
``rate_hz``. Stamps are ``start + k / rate_hz`` on the node's clock; with ``index_file`` set it
appends one JSON line per published frame (stamp in ns, source name), which is how the demo
finds the ground truth of each output (a SynthHO frame's name is its annotation file_name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from gsdf_ros.data.playback import PlaybackFrame, open_source
from gsdf_ros.nodes import params, runtime
from gsdf_ros.nodes.conversions import ns_to_stamp
from gsdf_ros.nodes.image_conversion import numpy_to_image

NODE_NAME = "gsdf_demo_camera"

PARAMETERS = (
    params.ParamSpec("source", "", "synthho:DIR[:SPLIT], images:DIR, video:FILE or bag:PATH", read_only=True),
    params.ParamSpec("rate_hz", 10.0, "frames per second", read_only=True, min_value=0.1, max_value=1000.0),
    params.ParamSpec("loop", False, "start over at the end of the source", read_only=True),
    params.ParamSpec("max_frames", 0, "stop publishing after this many frames (0: no limit)",
                     read_only=True, min_value=0, max_value=10**9),
    params.ParamSpec("frame_id", "camera_color_optical_frame", "optical frame of the published images", read_only=True),
    params.ParamSpec("hfov_deg", 60.0, "horizontal field of view for sources without intrinsics (images, video)",
                     read_only=True, min_value=1.0, max_value=179.0),
    params.ParamSpec("bag_image_topic", "/camera/color/image_raw", "image topic read from a bag source",
                     read_only=True),
    params.ParamSpec("bag_camera_info_topic", "/camera/color/camera_info", "camera info topic read from a bag source",
                     read_only=True),
    params.ParamSpec("wait_for_subscribers", 0, "hold playback until this many subscribers of image are matched",
                     read_only=True, min_value=0, max_value=1000),
    params.ParamSpec("index_file", "", "append '{stamp_ns, name}' JSON lines for every published frame (empty: off)",
                     read_only=True),
)


def camera_info_msg(frame: PlaybackFrame, header: Header) -> CameraInfo:
    """CameraInfo of a rectified pinhole frame."""
    k = frame.intrinsics.matrix()
    info = CameraInfo(header=header, width=int(frame.intrinsics.width), height=int(frame.intrinsics.height))
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = k.reshape(-1).tolist()
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [k[0, 0], 0.0, k[0, 2], 0.0, 0.0, k[1, 1], k[1, 2], 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def frames_of(source: str, hfov_deg: float, image_topic: str, info_topic: str) -> Iterator[PlaybackFrame]:
    """The frames of a source spec (bags through rosbags, the rest through gsdf_ros.data.playback)."""
    if source.startswith("bag:"):
        from gsdf_ros.nodes.bag import bag_frames

        path = Path(source[4:])
        if not path.exists():
            raise FileNotFoundError(f"source {source!r}: {path} does not exist")
        return bag_frames(path, image_topic, info_topic)
    return open_source(source, hfov_deg)


class DemoCameraNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        p = params.declare(self, PARAMETERS)
        self._p = p
        if not p["source"]:
            raise ValueError(
                "parameter 'source' is empty: give synthho:DIR[:SPLIT], images:DIR, video:FILE or bag:PATH"
            )
        self._frames = self._open()
        self._index = Path(p["index_file"]) if p["index_file"] else None
        self._period_ns = int(1e9 / p["rate_hz"])
        self._start_ns: int | None = None
        self._published = 0
        self._image_pub = self.create_publisher(Image, "image", runtime.reliable_qos(5))
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", runtime.reliable_qos(5))
        self._timer = self.create_timer(1.0 / p["rate_hz"], self._tick)
        self.get_logger().info(f"playing {p['source']} at {p['rate_hz']:.1f} Hz")

    def _open(self) -> Iterator[PlaybackFrame]:
        p = self._p
        return frames_of(p["source"], p["hfov_deg"], p["bag_image_topic"], p["bag_camera_info_topic"])

    def _next_frame(self) -> PlaybackFrame | None:
        frame = next(self._frames, None)
        if frame is None and self._p["loop"] and self._published:
            self._frames = self._open()
            frame = next(self._frames, None)
        return frame

    def _ready(self) -> bool:
        """Whether enough subscribers are matched to start playback (checked until it starts)."""
        if self._start_ns is not None:
            return True
        if self._image_pub.get_subscription_count() < int(self._p["wait_for_subscribers"]):
            return False
        self._start_ns = self.get_clock().now().nanoseconds
        return True

    def _tick(self) -> None:
        if not self._ready():
            return
        limit = int(self._p["max_frames"])
        frame = None if limit and self._published >= limit else self._next_frame()
        if frame is None:
            self.get_logger().info(f"source finished after {self._published} frame(s)")
            self._timer.cancel()
            return
        stamp_ns = self._start_ns + self._published * self._period_ns
        header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=self._p["frame_id"])
        self._image_pub.publish(numpy_to_image(frame.image, "rgb8", header=header))
        self._info_pub.publish(camera_info_msg(frame, header))
        self._published += 1
        if self._index is not None:
            with self._index.open("a") as handle:
                handle.write(json.dumps({"stamp_ns": stamp_ns, "name": frame.name}) + "\n")


def main(args: list[str] | None = None) -> int:
    return runtime.run(DemoCameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
