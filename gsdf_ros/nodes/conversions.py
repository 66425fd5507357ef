"""The one place where core types become ROS messages and back.

:class:`~gsdf_ros.result.Reconstruction` ⇄ ``gsdf/HandObjectReconstruction``; Reconstruction →
``tf2_msgs/TFMessage``, ``geometry_msgs/PoseStamped`` and ``visualization_msgs/MarkerArray``;
``gsdf/CropFrame`` ⇄ :class:`~gsdf_ros.result.CropSample`. Arrays are converted in bulk
(``tolist`` then one comprehension) because meshes can have ~10k triangles.
"""

from __future__ import annotations

import array
from typing import Any, Iterable

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion, Transform, TransformStamped, Vector3
from shape_msgs.msg import Mesh, MeshTriangle
from std_msgs.msg import ColorRGBA, Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from gsdf.msg import HandObjectReconstruction
from gsdf_ros import colours
from gsdf_ros.frames import HandFrames, quaternion_xyzw
from gsdf_ros.hand.joints import BONES, JOINT_NAMES, NUM_JOINTS
from gsdf_ros.result import Reconstruction, TriangleMesh

IDENTITY_QUATERNION = (0.0, 0.0, 0.0, 1.0)
HAND_RGBA = colours.rgba(colours.HAND_COLOUR)
OBJECT_RGBA = colours.rgba(colours.OBJECT_COLOUR)
JOINT_COLOUR = (0.90, 0.15, 0.15, 1.0)
BONE_COLOUR = (0.95, 0.95, 0.95, 1.0)
JOINT_DIAMETER_M = 0.012
BONE_WIDTH_M = 0.004

MESH_NAMESPACES = ("gsdf_hand_mesh", "gsdf_object_mesh")
SKELETON_NAMESPACES = ("gsdf_hand_joints", "gsdf_hand_bones")
MARKER_NAMESPACES = MESH_NAMESPACES + SKELETON_NAMESPACES
"""Stable marker namespaces (each holds one marker with id 0)."""


# --- stamps and points ---------------------------------------------------------------------

def stamp_to_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def to_points(xyz: np.ndarray) -> list[Point]:
    """geometry_msgs/Point for each row of an (N, 3) array."""
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, dtype=np.float64).reshape(-1, 3).tolist()]


def from_points(points: Iterable[Any]) -> np.ndarray:
    """(N, 3) float64 array of Point-like messages."""
    return np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64).reshape(-1, 3)


# --- meshes --------------------------------------------------------------------------------

def mesh_to_msg(mesh: TriangleMesh | None) -> Mesh:
    if mesh is None:
        return Mesh()
    triangles = [MeshTriangle(vertex_indices=f) for f in np.asarray(mesh.faces, dtype=np.uint32)]
    return Mesh(triangles=triangles, vertices=to_points(mesh.vertices))


def msg_to_mesh(msg: Mesh) -> TriangleMesh | None:
    """The mesh, or None when the message carries no triangles."""
    if not msg.triangles:
        return None
    faces = np.concatenate([np.asarray(t.vertex_indices) for t in msg.triangles]).astype(np.int64).reshape(-1, 3)
    return TriangleMesh(vertices=from_points(msg.vertices).astype(np.float32), faces=faces)


# --- Reconstruction <-> HandObjectReconstruction -------------------------------------------

def parts_of(rec: Reconstruction) -> int:
    """The PART_* bits a reconstruction carries (none for "no hand")."""
    if not rec.hand_present:
        return 0
    parts = HandObjectReconstruction.PART_HAND_JOINTS | HandObjectReconstruction.PART_OBJECT_POSE
    if rec.hand_mesh is not None:
        parts |= HandObjectReconstruction.PART_HAND_MESH
    if rec.object_mesh is not None:
        parts |= HandObjectReconstruction.PART_OBJECT_MESH
    if rec.hand_frames is not None:
        parts |= HandObjectReconstruction.PART_HAND_FRAMES
    return parts


def _quaternion(xyzw: Iterable[float] | None) -> Quaternion:
    x, y, z, w = IDENTITY_QUATERNION if xyzw is None else (float(v) for v in xyzw)
    return Quaternion(x=x, y=y, z=z, w=w)


def object_pose_of(rec: Reconstruction) -> Pose:
    x, y, z = (float(v) for v in rec.object_center)
    return Pose(position=Point(x=x, y=y, z=z), orientation=_quaternion(rec.object_orientation))


def rotation_of(q: Any) -> np.ndarray:
    """The 3x3 rotation of a geometry_msgs/Quaternion (normalised; ValueError when it has no length)."""
    from transforms3d.quaternions import quat2mat

    wxyz = np.array([q.w, q.x, q.y, q.z], dtype=np.float64)
    norm = float(np.linalg.norm(wxyz))
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError("quaternion without length")
    return quat2mat(wxyz / norm)


def _frames_to_msg(msg: HandObjectReconstruction, frames: HandFrames | None) -> None:
    if frames is None:
        return
    msg.hand_joint_orientations = [_quaternion(quaternion_xyzw(r)) for r in frames.joint_rotations]
    x, y, z = (float(v) for v in frames.palm_origin)
    msg.hand_pose = Pose(position=Point(x=x, y=y, z=z), orientation=_quaternion(quaternion_xyzw(frames.palm_rotation)))


def frames_from_msg(msg: HandObjectReconstruction) -> HandFrames | None:
    """The joint and palm frames a message carries, or None (PART_HAND_FRAMES clear)."""
    if not msg.parts & HandObjectReconstruction.PART_HAND_FRAMES:
        return None
    if len(msg.hand_joint_orientations) != NUM_JOINTS:
        raise ValueError(
            f"PART_HAND_FRAMES with {len(msg.hand_joint_orientations)} joint orientations, not {NUM_JOINTS}"
        )
    p = msg.hand_pose.position
    return HandFrames(
        joint_rotations=np.stack([rotation_of(q) for q in msg.hand_joint_orientations]),
        palm_origin=np.array([p.x, p.y, p.z], dtype=np.float64),
        palm_rotation=rotation_of(msg.hand_pose.orientation),
    )


def reconstruction_to_msg(rec: Reconstruction, sequence: int = 0) -> HandObjectReconstruction:
    """The message of a result (meshes included when it carries them); `sequence`: the topic's counter."""
    msg = HandObjectReconstruction()
    msg.header = Header(stamp=ns_to_stamp(rec.stamp_ns), frame_id=rec.frame_id)
    msg.hand_score = float(rec.hand_score)
    msg.crop_box_x, msg.crop_box_y, msg.crop_box_size = (float(v) for v in rec.crop_box or (0.0, 0.0, 0.0))
    msg.window_length = int(rec.window_length)
    msg.stage_names = list(rec.stage_ms)
    msg.stage_latency_ms = array.array("f", [float(v) for v in rec.stage_ms.values()])
    msg.sequence = int(sequence)
    msg.parts = parts_of(rec)
    if not rec.hand_present:
        return msg  # "no hand": no joints, object pose or meshes
    msg.hand_joints = to_points(rec.hand_joints)
    msg.hand_joint_confidence = array.array("f", np.asarray(rec.joint_confidence, dtype=np.float32).tolist())
    msg.object_pose = object_pose_of(rec)
    msg.object_orientation_estimated = rec.object_orientation is not None
    orientation_ns = rec.object_orientation_stamp_ns if rec.object_orientation_stamp_ns is not None else rec.stamp_ns
    msg.object_orientation_stamp = ns_to_stamp(orientation_ns if rec.object_orientation is not None else 0)
    _frames_to_msg(msg, rec.hand_frames)
    msg.object_confidence = float(rec.object_confidence)
    msg.hand_mesh = mesh_to_msg(rec.hand_mesh)
    msg.object_mesh = mesh_to_msg(rec.object_mesh)
    has_mesh = rec.hand_mesh is not None or rec.object_mesh is not None
    mesh_ns = (rec.stamp_ns if rec.mesh_stamp_ns is None else rec.mesh_stamp_ns) if has_mesh else 0
    msg.mesh_stamp = ns_to_stamp(mesh_ns)
    return msg


def joints_from_msg(msg: HandObjectReconstruction) -> np.ndarray | None:
    """The (21, 3) hand joints of a message, or None when it carries none."""
    if not msg.parts & HandObjectReconstruction.PART_HAND_JOINTS or len(msg.hand_joints) != NUM_JOINTS:
        return None
    return from_points(msg.hand_joints)


def msg_to_reconstruction(msg: HandObjectReconstruction, with_meshes: bool = True) -> Reconstruction:
    """The core result of a message (meshes left out unless `with_meshes`); ValueError when it
    lacks hand joints or is inconsistent."""
    joints = joints_from_msg(msg)
    if joints is None:
        raise ValueError(
            f"message carries no {NUM_JOINTS} hand joints (parts={msg.parts}, {len(msg.hand_joints)} joints)"
        )
    if len(msg.stage_names) != len(msg.stage_latency_ms):
        raise ValueError(f"{len(msg.stage_names)} stage names but {len(msg.stage_latency_ms)} latencies")
    q = msg.object_pose.orientation
    p = msg.object_pose.position
    mesh_ns = stamp_to_ns(msg.mesh_stamp)
    orientation_ns = stamp_to_ns(msg.object_orientation_stamp)
    return Reconstruction(
        stamp_ns=stamp_to_ns(msg.header.stamp),
        frame_id=msg.header.frame_id,
        hand_joints=joints,
        joint_confidence=np.asarray(msg.hand_joint_confidence, dtype=np.float64),
        object_center=np.array([p.x, p.y, p.z]),
        object_confidence=float(msg.object_confidence),
        object_orientation=np.array([q.x, q.y, q.z, q.w]) if msg.object_orientation_estimated else None,
        object_orientation_stamp_ns=(orientation_ns or None) if msg.object_orientation_estimated else None,
        hand_frames=frames_from_msg(msg),
        hand_mesh=(msg_to_mesh(msg.hand_mesh)
                   if with_meshes and msg.parts & HandObjectReconstruction.PART_HAND_MESH else None),
        object_mesh=(msg_to_mesh(msg.object_mesh)
                     if with_meshes and msg.parts & HandObjectReconstruction.PART_OBJECT_MESH else None),
        mesh_stamp_ns=mesh_ns or None,
        window_length=max(1, int(msg.window_length)),
        stage_ms={str(n): float(v) for n, v in zip(msg.stage_names, msg.stage_latency_ms)},
        hand_score=float(msg.hand_score),
        crop_box=crop_box_of(msg),
    )


def result_of_msg(msg: HandObjectReconstruction, with_meshes: bool = True) -> Reconstruction:
    """A message as a result: :func:`msg_to_reconstruction`, or "no hand" (:meth:`Reconstruction.no_hand`)
    when it carries no hand joints."""
    if not msg.parts & HandObjectReconstruction.PART_HAND_JOINTS and not msg.hand_joints:
        return Reconstruction.no_hand(stamp_to_ns(msg.header.stamp), msg.header.frame_id, float(msg.hand_score),
                                      crop_box_of(msg))
    return msg_to_reconstruction(msg, with_meshes)


def crop_box_of(msg: HandObjectReconstruction) -> tuple[float, float, float] | None:
    """The (x0, y0, side) crop box of a result message, None when it has none (side 0)."""
    if not msg.crop_box_size > 0:
        return None
    return (float(msg.crop_box_x), float(msg.crop_box_y), float(msg.crop_box_size))


# --- TF and pose ---------------------------------------------------------------------------

def tf_child_frames(prefix: str) -> list[str]:
    """Child frame names in message order: one per hand joint, the palm (``<prefix>hand``), the object."""
    return [f"{prefix}hand_{name}" for name in JOINT_NAMES] + [f"{prefix}hand", f"{prefix}object"]


def _transform(header: Header, child: str, xyz: Iterable[float], xyzw: Iterable[float] | None) -> TransformStamped:
    x, y, z = (float(v) for v in xyz)
    transform = Transform(translation=Vector3(x=x, y=y, z=z), rotation=_quaternion(xyzw))
    return TransformStamped(header=header, child_frame_id=child, transform=transform)


def to_tf_message(rec: Reconstruction, prefix: str) -> TFMessage:
    """All hand joint frames, the palm frame and the object frame of one result, children of its
    camera frame. Without estimated hand frames the joints get the identity rotation and the palm
    frame is left out; the object gets the identity unless its orientation was estimated."""
    header = Header(stamp=ns_to_stamp(rec.stamp_ns), frame_id=rec.frame_id)
    names = tf_child_frames(prefix)
    frames = rec.hand_frames
    if frames is None:
        joint_q = [IDENTITY_QUATERNION] * NUM_JOINTS
    else:
        joint_q = [quaternion_xyzw(r) for r in frames.joint_rotations]
    transforms = [_transform(header, name, xyz, q) for name, xyz, q in zip(names, rec.hand_joints.tolist(), joint_q)]
    if frames is not None:
        palm_q = quaternion_xyzw(frames.palm_rotation)
        transforms.append(_transform(header, names[NUM_JOINTS], frames.palm_origin, palm_q))
    transforms.append(_transform(header, names[-1], rec.object_center, rec.object_orientation))
    return TFMessage(transforms=transforms)


def to_pose_stamped(rec: Reconstruction) -> PoseStamped:
    return PoseStamped(header=Header(stamp=ns_to_stamp(rec.stamp_ns), frame_id=rec.frame_id), pose=object_pose_of(rec))


# --- RViz markers --------------------------------------------------------------------------

def _marker(
    ns: str,
    kind: int,
    header: Header,
    points: list[Point],
    colour: tuple[float, ...],
    scale: tuple[float, float, float],
) -> Marker:
    marker = Marker(header=header, ns=ns, id=0, type=kind, action=Marker.ADD, points=points, frame_locked=False)
    marker.pose.orientation.w = 1.0
    marker.scale = Vector3(x=scale[0], y=scale[1], z=scale[2])
    marker.color = ColorRGBA(r=colour[0], g=colour[1], b=colour[2], a=colour[3])
    return marker


def mesh_marker(ns: str, mesh: TriangleMesh, header: Header, colour: tuple[float, ...]) -> Marker:
    """A TRIANGLE_LIST marker: three points per triangle.

    One Point per vertex, referenced by every corner that uses it (about six each): building Point
    objects is the marker's main cost, and the serialized message is the same.
    """
    vertices = to_points(mesh.vertices)
    corners = list(map(vertices.__getitem__, np.asarray(mesh.faces).reshape(-1).tolist()))
    return _marker(ns, Marker.TRIANGLE_LIST, header, corners, colour, (1.0, 1.0, 1.0))


def skeleton_markers(rec: Reconstruction) -> list[Marker]:
    """Joint SPHERE_LIST and bone LINE_LIST of the hand."""
    header = Header(stamp=ns_to_stamp(rec.stamp_ns), frame_id=rec.frame_id)
    bone_ends = rec.hand_joints[np.asarray(BONES).reshape(-1)]
    return [
        _marker("gsdf_hand_joints", Marker.SPHERE_LIST, header, to_points(rec.hand_joints), JOINT_COLOUR,
                (JOINT_DIAMETER_M,) * 3),
        _marker("gsdf_hand_bones", Marker.LINE_LIST, header, to_points(bone_ends), BONE_COLOUR,
                (BONE_WIDTH_M, 0.0, 0.0)),
    ]


def mesh_markers(rec: Reconstruction, lifetime_s: float = 0.0) -> list[Marker]:
    """One marker per mesh namespace: the mesh (ADD, expiring after `lifetime_s`, 0 = never) when the
    result carries it, else a DELETE, so no mesh of an older result stays on screen."""
    header = Header(stamp=ns_to_stamp(rec.mesh_stamp_ns or rec.stamp_ns), frame_id=rec.frame_id)
    markers = []
    for ns, mesh, colour in zip(MESH_NAMESPACES, (rec.hand_mesh, rec.object_mesh), (HAND_RGBA, OBJECT_RGBA)):
        if mesh is not None and mesh.num_triangles:
            marker = mesh_marker(ns, mesh, header, colour)
            sec, nanosec = divmod(int(round(max(0.0, lifetime_s) * 1e9)), 1_000_000_000)
            marker.lifetime.sec, marker.lifetime.nanosec = sec, nanosec
            markers.append(marker)
        else:
            markers.append(delete_marker(ns, header))
    return markers


def to_marker_array(
    rec: Reconstruction, with_meshes: bool = True, delete_all_first: bool = False, mesh_lifetime_s: float = 0.0
) -> MarkerArray:
    """Markers of one result: meshes (when wanted: each mesh it carries, a DELETE for each it does not),
    joints and bones."""
    markers = [delete_all_marker()] if delete_all_first else []
    if with_meshes:
        markers += mesh_markers(rec, mesh_lifetime_s)
    return MarkerArray(markers=markers + skeleton_markers(rec))


def delete_marker(ns: str, header: Header | None = None) -> Marker:
    """DELETE of the one marker (id 0) of namespace `ns`."""
    return Marker(header=header or Header(), ns=ns, id=0, action=Marker.DELETE)


def delete_all_marker() -> Marker:
    return Marker(action=Marker.DELETEALL)


# --- CropFrame <-> CropSample --------------------------------------------------------------

def crop_frame_to_sample(msg: Any) -> Any:
    """The CropSample of a ``gsdf/CropFrame`` (a whole frame stays whole): the one validation of a
    crop message, where it enters the inference process.

    Raises :class:`~gsdf_ros.nodes.validation.Rejected` with the reason to count it under: what
    :func:`~gsdf_ros.nodes.validation.check_crop` finds (not rgb8, zero stamp, size unlike its own
    CameraInfo, unusable K, rotation not a finite unit quaternion), else MALFORMED_IMAGE when the
    pixels do not decode.
    """
    from transforms3d.quaternions import quat2mat

    from gsdf_ros.nodes.image_conversion import image_to_numpy
    from gsdf_ros.nodes.validation import CameraFacts, Rejected, RejectReason, check_crop
    from gsdf_ros.result import CropSample

    info, q, image = msg.camera_info, msg.virtual_rotation, msg.image
    stamp_ns = stamp_to_ns(msg.header.stamp)
    camera = CameraFacts(int(info.width), int(info.height), list(info.k), stamp_ns)
    reason = check_crop(image.encoding, int(image.width), int(image.height), camera, (q.x, q.y, q.z, q.w))
    if reason is not None:
        raise Rejected(reason, f"crop {image.encoding} {image.width}x{image.height} not usable")
    try:
        return CropSample(
            stamp_ns=stamp_ns,
            frame_id=msg.header.frame_id,
            image=image_to_numpy(image),
            k=np.asarray(info.k, dtype=np.float64).reshape(3, 3),
            rotation=quat2mat([q.w, q.x, q.y, q.z]),
            box=(float(msg.box_x), float(msg.box_y), float(msg.box_size)),
            whole_frame=bool(msg.whole_frame),
        )
    except ValueError as exc:
        raise Rejected(RejectReason.MALFORMED_IMAGE, str(exc)) from exc


def make_crop_frame(header: Header, rgb: np.ndarray, crop: Any, source_size: tuple[int, int], sequence: int) -> Any:
    """A ``gsdf/CropFrame`` from an RGB crop and its :class:`~gsdf_ros.geometry.VirtualCrop`."""
    return _frame_message(header, rgb, crop.intrinsics.matrix(), crop.rotation, crop.box, source_size, sequence, False)


def make_whole_frame(header: Header, rgb: np.ndarray, k: np.ndarray, box: tuple[float, float, float],
                     sequence: int) -> Any:
    """A ``gsdf/CropFrame`` carrying the whole RGB camera frame (``whole_frame`` true, crop_mode detect):
    the camera's own K (3x3), identity rotation, `box` the square that covers the image."""
    size = (int(rgb.shape[1]), int(rgb.shape[0]))
    return _frame_message(header, rgb, np.asarray(k, dtype=np.float64), np.eye(3), box, size, sequence, True)


def _frame_message(header: Header, rgb: np.ndarray, k: np.ndarray, rotation: np.ndarray, box: Iterable[float],
                   source_size: tuple[int, int], sequence: int, whole_frame: bool) -> Any:
    """The ``gsdf/CropFrame`` of an RGB image with its camera K, virtual rotation and box."""
    from transforms3d.quaternions import mat2quat

    from gsdf.msg import CropFrame
    from gsdf_ros.nodes.image_conversion import numpy_to_image

    msg = CropFrame(header=header, sequence=int(sequence), whole_frame=bool(whole_frame))
    msg.image = numpy_to_image(rgb, "rgb8", header=header)
    info = msg.camera_info
    info.header = header
    info.width, info.height = int(rgb.shape[1]), int(rgb.shape[0])
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = k.reshape(-1).tolist()
    info.r = np.eye(3).reshape(-1).tolist()
    info.p = np.concatenate([k, np.zeros((3, 1))], axis=1).reshape(-1).tolist()
    w, x, y, z = mat2quat(np.asarray(rotation, dtype=np.float64))
    msg.virtual_rotation = _quaternion([x, y, z, w] if w >= 0 else [-x, -y, -z, -w])
    msg.box_x, msg.box_y, msg.box_size = (float(v) for v in box)
    msg.source_width, msg.source_height = (int(v) for v in source_size)
    return msg
