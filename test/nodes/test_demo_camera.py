"""The demo camera: frame sources (SynthHO layout, image folder, video, rosbag2) and the real node."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from gsdf_ros.data.layout import Annotation, SampleRecord, write_split
from gsdf_ros.data.playback import PlaybackFrame, default_intrinsics, open_source
from gsdf_ros.geometry.camera import Intrinsics

rclpy = pytest.importorskip("rclpy", reason="needs the ROS environment (source env.sh)")


def _frames(n: int, w: int = 48, h: int = 32) -> list[np.ndarray]:
    """Images whose pixels encode their index, so order and content can be checked."""
    return [np.full((h, w, 3), (10 * i, 255 - 10 * i, 7 * i), dtype=np.uint8) for i in range(n)]


def test_image_folder_plays_in_name_order_with_default_intrinsics(tmp_path: Path) -> None:
    for i, img in enumerate(_frames(3)):
        cv2.imwrite(str(tmp_path / f"f{i:02d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    got = list(open_source(f"images:{tmp_path}", hfov_deg=90.0))
    assert [f.name for f in got] == ["f00.png", "f01.png", "f02.png"]
    np.testing.assert_array_equal(got[2].image, _frames(3)[2])
    assert got[0].intrinsics.fx == pytest.approx(24.0)  # (48/2) / tan(45 deg)
    assert got[0].intrinsics.cx == pytest.approx(23.5)


def test_video_file_plays_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (48, 32))
    for img in _frames(4):
        writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()
    got = list(open_source(f"video:{path}"))
    assert len(got) == 4
    assert np.abs(got[3].image.astype(int) - _frames(4)[3].astype(int)).mean() < 8  # lossy codec


def test_synthho_layout_plays_clips_in_order_with_their_intrinsics(tmp_path: Path) -> None:
    records = []
    for i, img in enumerate(_frames(3, 32, 32)):
        ann = Annotation(
            id=i + 1, intrinsics=Intrinsics(40.0 + i, 40.0 + i, 15.5, 15.5, 32, 32),
            hand_joints_3d=np.full((21, 3), 0.5), obj_center_3d=np.array([0.0, 0.0, 0.5]),
            obj_corners_3d=np.full((8, 3), 0.5),
        )
        records.append(SampleRecord(annotation=ann, image=img))
    write_split(tmp_path, "test", records, clips=[[3, 1], [2]])
    got = list(open_source(f"synthho:{tmp_path}:test"))
    assert [f.name for f in got] == ["00000003", "00000001", "00000002"]
    assert [f.intrinsics.fx for f in got] == [42.0, 40.0, 41.0]
    np.testing.assert_array_equal(got[0].image, _frames(3, 32, 32)[2])


def test_bag_round_trip(tmp_path: Path) -> None:
    from gsdf_ros.nodes.bag import bag_frames, write_bag

    frames = [PlaybackFrame(img, default_intrinsics(48, 32, 60.0), str(i)) for i, img in enumerate(_frames(3))]
    path = tmp_path / "cam_bag"
    write_bag(path, frames, "/cam/image", "/cam/info", "cam_optical", period_ns=100_000_000)
    got = list(bag_frames(path, "/cam/image", "/cam/info"))
    assert len(got) == 3
    for want, have in zip(frames, got):
        np.testing.assert_array_equal(have.image, want.image)
        assert have.intrinsics == want.intrinsics
    assert got[1].name == "1.100000000"
    with pytest.raises(ValueError, match="no topic /other"):
        list(bag_frames(path, "/other", "/cam/info"))


def test_unknown_or_missing_sources_raise_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        open_source(f"webcam:{tmp_path}")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_source(f"images:{tmp_path / 'nope'}")
    with pytest.raises(FileNotFoundError, match="no images"):
        list(open_source(f"images:{tmp_path}"))


@pytest.mark.ros
def test_camera_node_publishes_paired_frames_and_an_index(tmp_path: Path) -> None:
    from sensor_msgs.msg import CameraInfo, Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(_frames(5)):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    index = tmp_path / "index.jsonl"
    rclpy.init()
    node = rclpy.create_node("camera_listener")
    images: list[Image] = []
    infos: list[CameraInfo] = []
    node.create_subscription(Image, "image", images.append, 10)
    node.create_subscription(CameraInfo, "camera_info", infos.append, 10)
    proc = subprocess.Popen([
        sys.executable, "-m", "gsdf_ros.nodes.camera_node", "--ros-args",
        "-p", f"source:=images:{folder}", "-p", "rate_hz:=20.0", "-p", "max_frames:=4",
        "-p", "wait_for_subscribers:=1", "-p", f"index_file:={index}",
    ], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while (len(images) < 4 or len(infos) < 4) and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        time.sleep(0.5)
        rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        node.destroy_node()
        rclpy.shutdown()
    assert len(images) == 4 and len(infos) == 4, out  # max_frames stops it
    assert [i.header.stamp for i in images] == [c.header.stamp for c in infos]
    assert images[0].encoding == "rgb8" and images[0].header.frame_id == "camera_color_optical_frame"
    lines = [json.loads(line) for line in index.read_text().splitlines()]
    assert [entry["name"] for entry in lines] == ["0.png", "1.png", "2.png", "3.png"]
    stamps = [i.header.stamp.sec * 10**9 + i.header.stamp.nanosec for i in images]
    assert [entry["stamp_ns"] for entry in lines] == stamps
    assert np.diff(stamps).tolist() == [50_000_000] * 3
