"""SDF sample files from meshes: signs, point distribution, normalisation and the layout step."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gsdf_ros.cli.prepare import main
from gsdf_ros.data.dataset import FrameDataset
from gsdf_ros.data.layout import (
    Annotation,
    SampleRecord,
    SdfSamples,
    norm_path,
    read_annotations,
    read_norm,
    read_sdf,
    read_split_ids,
    save_npz,
    sdf_path,
    write_split,
)
from gsdf_ros.data.sdf_from_mesh import MeshRejected, SamplerConfig, prepare_split_sdf, sample_sdf_pair
from gsdf_ros.geometry.camera import Intrinsics

CENTRE = np.array([0.0, 0.0, 0.5])
RADIUS = 0.04
CONFIG = SamplerConfig(n_surface=600, n_uniform=400, n_vote_samples=20_000)


def hand_sphere(holes: bool = False) -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    faces = np.asarray(sphere.faces)
    if holes:
        faces = faces[~np.any(np.isin(faces, [0, 7]), axis=1)]
    return trimesh.Trimesh(sphere.vertices + CENTRE, faces, process=False)


BOX_CENTRE = CENTRE + (0.06, 0.0, 0.02)
BOX_EXTENTS = np.array([0.05, 0.06, 0.08])


def object_box() -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=BOX_EXTENTS)
    box.apply_translation(BOX_CENTRE)
    return box


def inside_box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact containment in the axis-aligned box and each point's distance to its nearest face plane."""
    offset = np.abs(points - BOX_CENTRE) - BOX_EXTENTS / 2
    return np.all(offset < 0, axis=1), np.min(np.abs(offset), axis=1)


def metres(samples, norm, side):
    rows = getattr(samples, side)
    return rows[:, :3].astype(np.float64) / norm.scale - norm.offset, rows[:, 3].astype(np.float64) / norm.scale


@pytest.fixture(scope="module")
def pair():
    return sample_sdf_pair(hand_sphere(), object_box(), CONFIG, seed=3)


def test_signs_agree_with_containment_of_a_watertight_mesh(pair):
    hand, box = hand_sphere(), object_box()
    for side in ("pos", "neg"):
        points, sdf = metres(pair.hand, pair.norm, side)
        radial = np.linalg.norm(points - CENTRE, axis=1) - RADIUS
        clear = np.abs(radial) > 2e-4  # beyond the icosphere's faceting
        assert np.all(np.sign(sdf[clear]) == np.sign(radial[clear]))
        assert np.all((sdf > 0) == (side == "pos"))
        # ray-cast containment is unreliable for points grazing the faceted surface
        assert np.all(hand.contains(points[clear]) == (side == "neg"))
        other = getattr(pair.hand, f"{side}_other")[:, 0]
        in_box, margin = inside_box(points)
        far = margin > 2e-4
        assert np.all((other[far] < 0) == in_box[far])
        assert np.all(box.contains(points[far]) == in_box[far])
    kept = sum(len(getattr(pair.hand, s)) for s in ("pos", "neg"))
    assert kept >= 0.98 * CONFIG.candidates


def test_distances_match_the_mesh_and_normalisation_round_trips(pair):
    points, sdf = metres(pair.hand, pair.norm, "neg")
    _, distance, _ = trimesh.proximity.closest_point(hand_sphere(), points[:200])
    np.testing.assert_allclose(np.abs(sdf[:200]), distance, atol=5e-6)
    rng = np.random.default_rng(0)
    p = rng.uniform(-1, 1, size=(100, 3))
    np.testing.assert_allclose(pair.norm.to_metres(pair.norm.to_unit(p)), p, atol=1e-12)
    verts = np.vstack([hand_sphere().vertices, object_box().vertices])
    unit = pair.norm.to_unit(verts)
    assert np.linalg.norm(unit, axis=1).max() == pytest.approx(1 / 1.03)


def test_near_surface_fraction_matches_the_distribution(pair):
    band = 0.25  # unit-sphere units, 3.5 sigma of the wider perturbation
    sdf = np.concatenate([pair.hand.pos[:, 3], pair.hand.neg[:, 3]])
    near = float(np.mean(np.abs(sdf) < band))
    rng = np.random.default_rng(1)
    cube = rng.uniform(-1, 1, size=(200_000, 3))
    centre_u, radius_u = pair.norm.to_unit(CENTRE[None])[0], RADIUS * pair.norm.scale
    uniform_near = np.mean(np.abs(np.linalg.norm(cube - centre_u, axis=1) - radius_u) < band)
    n_near = CONFIG.n_surface * 2
    expected = (n_near + CONFIG.n_uniform * uniform_near) / CONFIG.candidates
    assert abs(near - expected) < 0.05
    assert n_near / CONFIG.candidates == pytest.approx(0.75)
    assert SamplerConfig().n_surface * 2 / SamplerConfig().candidates == pytest.approx(0.94)


def test_open_mesh_uses_normal_votes_and_is_seeded():
    calls = []
    first = sample_sdf_pair(hand_sphere(holes=True), object_box(), CONFIG, seed=8,
                            progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1]
    points, sdf = metres(first.hand, first.norm, "pos")
    radial = np.linalg.norm(points - CENTRE, axis=1) - RADIUS
    assert np.mean(np.sign(sdf) == np.sign(radial)) > 0.99
    again = sample_sdf_pair(hand_sphere(holes=True), object_box(), CONFIG, seed=8)
    np.testing.assert_array_equal(first.obj.neg, again.obj.neg)
    scrambled = np.array(hand_sphere().faces)
    scrambled[::2] = scrambled[::2, ::-1]  # every other triangle faces inwards: votes disagree
    with pytest.raises(MeshRejected):
        sample_sdf_pair(trimesh.Trimesh(hand_sphere().vertices, scrambled, process=False), object_box(),
                        SamplerConfig(n_surface=200, n_uniform=200, n_vote_samples=5000), seed=1)


def test_layout_step_writes_files_and_normalisations(tmp_path):
    k = Intrinsics(100.0, 100.0, 31.5, 31.5, 64, 64)
    records = []
    for i in (0, 1):
        joints = CENTRE + np.random.default_rng(i).uniform(-0.03, 0.03, size=(21, 3))
        ann = Annotation(id=i, intrinsics=k, hand_joints_3d=joints, obj_center_3d=CENTRE + 0.06,
                         obj_corners_3d=object_box().bounding_box.vertices)
        records.append(SampleRecord(ann, np.zeros((64, 64, 3), np.uint8), mesh_hand=hand_sphere(),
                                    mesh_obj=object_box() if i == 0 else None))
    write_split(tmp_path, "train", records)
    assert main(["sdf", "--layout", str(tmp_path), "--split", "train", "--n-surface", "200",
                 "--n-uniform", "100"]) == 0
    annotations = read_annotations(tmp_path, "train")
    offset, scale = read_norm(tmp_path, "00000000")
    assert annotations[0].sdf_scale == np.float32(scale)
    np.testing.assert_array_equal(annotations[0].sdf_offset, offset)
    assert not annotations[1].has_sdf_norm  # no object mesh: no files
    hand = read_sdf(tmp_path, "hand", "00000000")
    assert len(hand.pos) + len(hand.neg) > 480
    data = FrameDataset(tmp_path, "train", recon_scale=7.0, input_size=64, num_points=100, subset="train_sdf")
    assert len(data) == 1 and data[0]["points"].shape == (100, 3)


def test_existing_files_are_kept_and_the_norm_file_recorded(tmp_path):
    """Without --overwrite a sample whose sdf_hand, sdf_obj and norm files exist is skipped, and the
    annotation json takes sdf_offset / sdf_scale from its norm file (no meshes needed)."""
    k = Intrinsics(100.0, 100.0, 31.5, 31.5, 64, 64)
    rows = np.column_stack([np.random.default_rng(2).uniform(-0.5, 0.5, (10, 3)), np.full(10, 0.05)])
    samples = SdfSamples(pos=rows, neg=rows * (1, 1, 1, -1), pos_other=np.full((10, 1), 0.2),
                         neg_other=np.full((10, 1), -0.2))
    ann = Annotation(id=3, intrinsics=k, hand_joints_3d=CENTRE + np.zeros((21, 3)), obj_center_3d=CENTRE,
                     obj_corners_3d=object_box().bounding_box.vertices, sdf_offset=-CENTRE, sdf_scale=5.0)
    write_split(tmp_path, "train", [SampleRecord(ann, np.zeros((64, 64, 3), np.uint8), sdf_hand=samples,
                                                 sdf_obj=samples)])
    offset, scale = np.float32([0.011, -0.022, -0.487]), np.float32([6.25])
    save_npz(norm_path(tmp_path, "00000003"), {"offset": offset, "scale": scale})
    before = {kind: sdf_path(tmp_path, kind, "00000003").read_bytes() for kind in ("hand", "obj")}
    outcomes = prepare_split_sdf(tmp_path, "train", CONFIG)
    assert [(o.id, o.skipped, o.error) for o in outcomes] == [(3, True, "")]
    np.testing.assert_array_equal(outcomes[0].norm.offset, offset.astype(np.float64))
    assert outcomes[0].norm.scale == float(scale[0])
    stored = read_annotations(tmp_path, "train")[3]
    np.testing.assert_array_equal(stored.sdf_offset, offset.astype(np.float64))
    assert stored.sdf_scale == float(scale[0])
    assert read_split_ids(tmp_path, "train_sdf") == [3]
    assert {kind: sdf_path(tmp_path, kind, "00000003").read_bytes() for kind in ("hand", "obj")} == before
    redone = prepare_split_sdf(tmp_path, "train", CONFIG, overwrite=True)  # recompute: the meshes are missing
    assert redone[0].norm is None and "mesh" in redone[0].error
