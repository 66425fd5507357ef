"""Find and follow a hand crossing whole camera frames, through the running graph; and say "no hand".

Starts the graph with ``gsdf-bringup`` (``crop_mode: detect``, the package's model and hand detector
unless given), plays SynthHO crossing clips (``gsdf_ros.synth.crossing``: 640x480, a hand moving
across the frame, ground-truth joints) as a camera, then frames of pure noise and hand-free frames
(the rendered scenes without a hand of a held-out scene set, resized), and records each frame's
``/reconstruction`` (hand score, crop box, joints) and which frames put a hand on ``/tf``.

Per clip frame with a result: the share of the true joints inside the crop box (a frame is covered
when >= 95% are), the joint error in the camera frame (live E_h, cm; frames answered "no hand" have
none and count as not covered). Per hand-free frame: whether a hand reached /tf.

The reference: after the graph has stopped, the same model in this process reads every clip frame's
hand-centred crop, the crop a detection of the hand's true box (its true joints' flesh box) makes in
the inference node's hand finder, with the node's ``pose_looks`` around it, and its live E_h on those
crops is printed beside the graph's, with their ratio: what detection and tracking cost against a
perfectly placed crop (``--no-reference`` skips it).

    python bench/crossing_graph.py --clips 3 --frames 120 --json out/crossing.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
import yaml
from observe_graph import close, launch
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from gsdf.msg import HandObjectReconstruction
from gsdf_ros.demo_finding import COVERED
from gsdf_ros.detect.tracker import inside_fraction
from gsdf_ros.nodes.graph import DEFAULT_CHECKPOINT
from gsdf_ros.synth.crossing import CrossingConfig, write_crossing_clip

ROOT = Path(__file__).resolve().parents[1]
IMAGE_TOPIC, INFO_TOPIC = "/crossing/image", "/crossing/camera_info"
FRAME = "crossing_camera_optical_frame"


def params_file(directory: Path, checkpoint: str | None, detector: str | None, threshold: float | None,
                pose_looks: int | None = None) -> Path:
    """The package's parameter file with crop_mode detect, no meshes and the given model files."""
    params = yaml.safe_load((ROOT / "config" / "gsdf.yaml").read_text())
    node_params = params["/**"]["ros__parameters"]
    node_params.update(crop_mode="detect", mesh_mode="none")
    if checkpoint:
        node_params["checkpoint"] = checkpoint
    if detector:
        node_params["detector"] = detector
    if threshold is not None:
        node_params["hand_score_threshold"] = threshold
    if pose_looks is not None:
        node_params["pose_looks"] = pose_looks
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def clip_frames(cache: Path, seed: int, config: CrossingConfig) -> tuple[list[np.ndarray], dict]:
    """The RGB frames and ground truth of crossing clip ``seed`` (rendered into ``cache`` once)."""
    meta_path = cache / f"seed_{seed}" / "clip.json"
    if not meta_path.exists():
        write_crossing_clip(meta_path.parent, seed, config)
    meta = json.loads(meta_path.read_text())
    frames = [cv2.imread(str(meta_path.parent / row["file"]))[..., ::-1].copy() for row in meta["frames"]]
    return frames, meta


def hand_free_frames(scenes: Path, count: int, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """``count`` frames: half pure noise, half hand-free rendered scenes of ``scenes`` (resized to ``size``)."""
    rng = np.random.default_rng(seed)
    width, height = size
    noise = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count // 2)]
    rows = []
    for path in sorted(scenes.glob("scenes_*.json")):
        rows += [r for r in json.loads(path.read_text())["scenes"] if r["hand"] is None]
    pictures = []
    for row in rows[: count - len(noise)]:
        bgr = cv2.imread(str(scenes / row["file"]))
        pictures.append(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_LINEAR)[..., ::-1].copy())
    return noise + pictures


def hand_centred_errors(clips: list, checkpoint: str, crop_size: int, pose_looks: int = 1) -> list[list[float]]:
    """Per clip, per frame: the live E_h (cm) of ``checkpoint``'s pose path on the frame's hand-centred crop,
    cut by the inference node's hand finder from a detection of the true flesh box (one detection per
    frame, no tracking), with the node's ``pose_looks`` around it."""
    from gsdf_ros.detect.tracker import TrackerConfig
    from gsdf_ros.detect.verify import Found, flesh_box
    from gsdf_ros.hand_finder import HandFinder, finder_looks
    from gsdf_ros.predictor import load_predictor
    from gsdf_ros.result import CropSample

    predictor = load_predictor(checkpoint, "cpu", 1, {"mesh": "none"})
    looks = finder_looks(predictor, pose_looks)
    errors: list[list[float]] = []
    for frames, meta in clips:
        k = np.asarray(meta["K"], dtype=np.float64).reshape(3, 3)
        per_frame = []
        for rgb, truth in zip(frames, meta["frames"]):
            box = flesh_box(np.asarray(truth["joints_2d"]))
            finder = HandFinder(lambda image, intrinsics, box=box: Found(1.0, box), crop_size,
                                TrackerConfig(score_threshold=0.5, redetect_every=1),
                                shape_scale=getattr(predictor, "shape_scale", None), looks=looks)
            whole = CropSample(0, FRAME, rgb, k, np.eye(3), (-0.5, -0.5, float(max(rgb.shape[:2]))), whole_frame=True)
            sample = finder.find(whole).sample
            result = predictor.predict_pose([sample])[0] if hasattr(predictor, "predict_pose") \
                else predictor.predict([sample])
            error = np.linalg.norm(result.hand_joints - np.asarray(truth["joints"]), axis=1).mean()
            per_frame.append(100.0 * float(error))
        errors.append(per_frame)
    return errors


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames", type=int, default=120, help="frames per clip")
    parser.add_argument("--seed", type=int, default=900, help="first clip seed (clips use seed, seed+1, ...)")
    parser.add_argument("--rate", type=float, default=8.0, help="frames per second played")
    parser.add_argument("--hand-free", type=int, default=200,
                        help="noise + hand-free frames played after the clips (at least 2: the warm-up and the gaps "
                             "between clips play noise frames)")
    parser.add_argument("--scenes", type=Path, default=ROOT / "data" / "scenes_heldout_full",
                        help="scene set whose hand-free frames are played (tools/make_detector.sh makes the default)")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "crossing_clips")
    parser.add_argument("--checkpoint", default=None, help="model checkpoint (default: the params file's)")
    parser.add_argument("--detector", default=None, help="hand detector (default: the params file's)")
    parser.add_argument("--threshold", type=float, default=None, help="hand_score_threshold (default: the file's)")
    parser.add_argument("--pose-looks", type=int, default=None, help="pose_looks (default: the file's)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the live E_h on hand-centred crops of the same frames")
    args = parser.parse_args(argv)
    if args.hand_free < 2:
        parser.error(f"--hand-free must be at least 2, got {args.hand_free}")

    config = CrossingConfig(frames=args.frames)
    clips = [clip_frames(args.cache, args.seed + i, config) for i in range(args.clips)]
    width, height = config.size
    free = hand_free_frames(args.scenes, args.hand_free, config.size, args.seed)
    k = [float(v) for v in np.asarray(clips[0][1]["K"]).ravel()]

    work = Path(tempfile.mkdtemp(prefix="gsdf_crossing_"))
    graph_log = work / "graph.log"
    params = params_file(work, args.checkpoint, args.detector, args.threshold, args.pose_looks)
    graph = launch(IMAGE_TOPIC, INFO_TOPIC, params, graph_log)
    rclpy.init()
    node = rclpy.create_node("gsdf_crossing_observer")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = node.create_publisher(Image, IMAGE_TOPIC, reliable)
    info_pub = node.create_publisher(CameraInfo, INFO_TOPIC, reliable)
    results: dict[int, HandObjectReconstruction] = {}
    hand_tf: set[int] = set()
    node.create_subscription(HandObjectReconstruction, "/reconstruction",
                             lambda m: results.__setitem__(stamp_ns(m.header.stamp), m), reliable)

    def on_tf(msg: TFMessage) -> None:
        for t in msg.transforms:
            if t.header.frame_id == FRAME and t.child_frame_id.endswith("hand"):
                hand_tf.add(stamp_ns(t.header.stamp))

    node.create_subscription(TFMessage, "/tf", on_tf, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    sent: dict[int, tuple[str, int, int]] = {}  # stamp -> (kind, clip, frame)
    next_stamp = [1_000_000_000]

    def send(rgb: np.ndarray, tag: tuple[str, int, int]) -> int:
        stamp = next_stamp[0]
        next_stamp[0] += int(1e9 / args.rate)
        image = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=rgb.tobytes())
        image.header.stamp.sec, image.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        image.header.frame_id = FRAME
        info = CameraInfo(height=height, width=width, k=k, distortion_model="plumb_bob", d=[0.0] * 5)
        info.header = image.header
        image_pub.publish(image)
        info_pub.publish(info)
        sent[stamp] = tag
        return stamp

    def play(rgb: np.ndarray, tag: tuple[str, int, int]) -> None:
        due = time.monotonic() + 1.0 / args.rate
        send(rgb, tag)
        while time.monotonic() < due:
            rclpy.spin_once(node, timeout_sec=max(0.0, due - time.monotonic()))

    try:
        deadline = time.monotonic() + 300
        warm = free[0]
        while not results:  # noise frames until results come back (frames sent before the graph is matched are lost)
            if time.monotonic() > deadline or graph.poll() is not None or "cannot start" in graph_log.read_text():
                raise RuntimeError(f"the graph did not come up (log: {graph_log})")
            play(warm, ("warmup", 0, 0))
        for c, (frames, _) in enumerate(clips):
            for i, rgb in enumerate(frames):
                play(rgb, ("clip", c, i))
            for _ in range(int(args.rate)):  # a second of nothing between clips: the tracker must let go
                play(free[1], ("gap", c, 0))
        for i, rgb in enumerate(free):
            play(rgb, ("noise" if i < len(free) // 2 else "hand_free", 0, i))
        settle = time.monotonic() + 5.0
        while time.monotonic() < settle:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        close(node, graph)

    summary = score(sent, results, hand_tf, clips)
    summary.update(rate_hz=args.rate, image=f"{width}x{height}", graph_log=str(work / "graph.log"))
    if not args.no_reference:
        node_params = yaml.safe_load(params.read_text())["/**"]["ros__parameters"]
        checkpoint = node_params.get("checkpoint") or str(ROOT / DEFAULT_CHECKPOINT)
        errors = hand_centred_errors(clips, checkpoint, int(node_params["crop_size"]),
                                     int(node_params.get("pose_looks", 1)))
        summary.update(reference_figures(errors, summary["per_clip_frames"]))
    print(json.dumps({k: v for k, v in summary.items() if k != "per_clip_frames"}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


def score(sent: dict, results: dict, hand_tf: set, clips: list) -> dict:
    """Coverage, live E_h and "no hand" figures of one played run."""
    covered, shares, errors, answered, no_hand, played = [], [], [], 0, 0, 0
    per_clip: list[list[dict]] = [[] for _ in clips]
    free = {"noise": [0, 0], "hand_free": [0, 0]}  # kind -> [frames answered, frames with a hand on /tf]
    for stamp, (kind, c, i) in sorted(sent.items()):
        msg = results.get(stamp)
        if kind in free and msg is not None:
            free[kind][0] += 1
            free[kind][1] += int(stamp in hand_tf)
        if kind != "clip":
            continue
        played += 1
        if msg is None:
            continue
        answered += 1
        truth = clips[c][1]["frames"][i]
        gt_2d, gt = np.asarray(truth["joints_2d"]), np.asarray(truth["joints"])
        has_hand = bool(msg.parts & HandObjectReconstruction.PART_HAND_JOINTS) and len(msg.hand_joints) == 21
        share = inside_fraction(gt_2d, (msg.crop_box_x, msg.crop_box_y, msg.crop_box_size)) if has_hand else 0.0
        shares.append(share)
        covered.append(share >= COVERED)
        row = {"frame": i, "score": round(float(msg.hand_score), 3), "coverage": round(share, 3),
               "box": [round(float(msg.crop_box_x), 1), round(float(msg.crop_box_y), 1),
                       round(float(msg.crop_box_size), 1)]}
        if has_hand:
            pred = np.array([[p.x, p.y, p.z] for p in msg.hand_joints])
            errors.append(100.0 * float(np.linalg.norm(pred - gt, axis=1).mean()))
            row["E_h_cm"] = round(errors[-1], 2)
        else:
            no_hand += 1
        per_clip[c].append(row)
    tail_cover = [float(np.mean([r["coverage"] >= COVERED for r in rows[-10:]])) for rows in per_clip if rows]
    return {
        "clip_frames_played": played, "clip_frames_answered": answered,
        "clip_frames_covered": round(float(np.mean(covered)), 4) if covered else None,
        "clip_frames_no_hand": no_hand,
        "mean_joint_share_in_crop": round(float(np.mean(shares)), 4) if shares else None,
        "live_E_h_cm_mean": round(float(np.mean(errors)), 2) if errors else None,
        "live_E_h_cm_median": round(float(np.median(errors)), 2) if errors else None,
        "last_10_frames_covered_per_clip": tail_cover,
        "noise_frames_answered": free["noise"][0], "noise_frames_hand_on_tf": free["noise"][1],
        "hand_free_frames_answered": free["hand_free"][0], "hand_free_frames_hand_on_tf": free["hand_free"][1],
        "per_clip_frames": per_clip,
    }


def reference_figures(reference: list[list[float]], per_clip: list[list[dict]]) -> dict:
    """Live E_h on the hand-centred crops (mean, median, per clip) and, over the frames the graph answered
    with joints, the graph's mean over the reference's mean."""
    every = [e for clip in reference for e in clip]
    paired = [(row["E_h_cm"], reference[c][row["frame"]]) for c, rows in enumerate(per_clip) for row in rows
              if "E_h_cm" in row]
    graph_mean = float(np.mean([g for g, _ in paired])) if paired else float("nan")
    reference_mean = float(np.mean([r for _, r in paired])) if paired else float("nan")
    return {
        "hand_centred_E_h_cm_mean": round(float(np.mean(every)), 2) if every else None,
        "hand_centred_E_h_cm_median": round(float(np.median(every)), 2) if every else None,
        "hand_centred_E_h_cm_per_clip": [round(float(np.mean(c)), 2) for c in reference if c],
        "graph_over_hand_centred": round(graph_mean / reference_mean, 3) if paired else None,
    }


if __name__ == "__main__":
    raise SystemExit(main())
