"""rosbag2 bags (mcap or sqlite3) of Image + CameraInfo, read and written with ``rosbags``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from gsdf_ros.data.playback import PlaybackFrame
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.nodes.image_conversion import decode_pixels, to_rgb8

IMAGE_TOPIC_TYPE = "sensor_msgs/msg/Image"
INFO_TOPIC_TYPE = "sensor_msgs/msg/CameraInfo"


def bag_frames(path: Path, image_topic: str, info_topic: str) -> Iterator[PlaybackFrame]:
    """Image + CameraInfo pairs (matched by stamp) of a rosbag2 bag (mcap or sqlite3)."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.LATEST)
    infos: dict[tuple[int, int], Intrinsics] = {}
    with Reader(path) as reader:
        topics = {c.topic for c in reader.connections}
        for topic in (image_topic, info_topic):
            if topic not in topics:
                raise ValueError(f"bag {path} has no topic {topic} (topics: {', '.join(sorted(topics))})")
        wanted = [c for c in reader.connections if c.topic in (image_topic, info_topic)]
        pending: dict[tuple[int, int], np.ndarray] = {}
        for connection, _, raw in reader.messages(connections=wanted):
            msg = store.deserialize_cdr(raw, connection.msgtype)
            key = (int(msg.header.stamp.sec), int(msg.header.stamp.nanosec))
            if connection.topic == info_topic:
                k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
                infos[key] = Intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], int(msg.width), int(msg.height))
            else:
                pixels = decode_pixels(msg.height, msg.width, msg.encoding, bool(msg.is_bigendian), msg.step, msg.data)
                pending[key] = to_rgb8(pixels, msg.encoding)
            for ready in sorted(set(pending) & set(infos)):
                yield PlaybackFrame(pending.pop(ready), infos.pop(ready), f"{ready[0]}.{ready[1]:09d}")


def write_bag(path: Path, frames: list[PlaybackFrame], image_topic: str, info_topic: str,
              frame_id: str, period_ns: int, start_ns: int = 1_000_000_000, storage: str = "mcap") -> None:
    """Record frames as a rosbag2 bag of Image (rgb8) + CameraInfo, e.g. to replay them later."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.LATEST)
    Image, CameraInfo = store.types[IMAGE_TOPIC_TYPE], store.types[INFO_TOPIC_TYPE]
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    RegionOfInterest = store.types["sensor_msgs/msg/RegionOfInterest"]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        image_conn = writer.add_connection(image_topic, IMAGE_TOPIC_TYPE, typestore=store)
        info_conn = writer.add_connection(info_topic, INFO_TOPIC_TYPE, typestore=store)
        for i, frame in enumerate(frames):
            stamp_ns = start_ns + i * period_ns
            stamp = Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
            header = Header(stamp=stamp, frame_id=frame_id)
            h, w = frame.image.shape[:2]
            image = Image(header=header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=3 * w,
                          data=np.ascontiguousarray(frame.image).reshape(-1))
            k = frame.intrinsics.matrix()
            info = CameraInfo(
                header=header, height=h, width=w, distortion_model="plumb_bob", d=np.zeros(5),
                k=k.reshape(-1), r=np.eye(3).reshape(-1), p=np.concatenate([k, np.zeros((3, 1))], axis=1).reshape(-1),
                binning_x=0, binning_y=0,
                roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
            )
            writer.write(image_conn, stamp_ns, store.serialize_cdr(image, IMAGE_TOPIC_TYPE))
            writer.write(info_conn, stamp_ns, store.serialize_cdr(info, INFO_TOPIC_TYPE))
