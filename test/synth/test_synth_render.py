"""Sphere-tracing renderer: silhouettes against projected meshes, depth, labels, determinism."""


import cv2
import numpy as np
import pytest

from gsdf_ros.synth import appearance, objects, render

CAMERA = render.OBMAN_CAMERA


def silhouette(mesh, camera) -> np.ndarray:
    """Binary mask of the mesh's projected triangles (sub-pixel fillPoly)."""
    uv = camera.project(mesh.vertices)
    tris = np.round(uv[mesh.faces] * 16.0).astype(np.int32)
    mask = np.zeros((camera.height, camera.width), np.uint8)
    cv2.fillPoly(mask, list(tris), 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def scene(hand, joints):
    rng = np.random.default_rng(11)
    grip = joints[[4, 8, 12]].mean(axis=0) + np.array([0.0, 0.0, 0.04])
    obj = objects.sample_object(rng, "mug", position=grip)
    skin = appearance.sample_skin(rng)
    light = appearance.sample_lighting(rng)
    background = appearance.random_background(rng, CAMERA.height, CAMERA.width)
    return obj, skin, light, background


def test_masks_match_projected_mesh_silhouettes(hand, hand_mesh, scene):
    obj, skin, light, background = scene
    alone_hand = render.render([render.hand_item(hand, skin)], CAMERA, light, background)
    alone_obj = render.render([render.object_item(obj)], CAMERA, light, background)
    assert iou(alone_hand.mask == render.LABEL_HAND, silhouette(hand_mesh, CAMERA)) >= 0.95
    assert iou(alone_obj.mask == render.LABEL_OBJECT, silhouette(obj.mesh(), CAMERA)) >= 0.95
    both = render.render([render.hand_item(hand, skin), render.object_item(obj)], CAMERA, light, background)
    union = silhouette(hand_mesh, CAMERA) | silhouette(obj.mesh(), CAMERA)
    assert iou(both.mask > 0, union) >= 0.95
    # where both cover a pixel, the label is the nearer surface
    overlap = (alone_hand.mask > 0) & (alone_obj.mask > 0) & (both.mask > 0)
    assert overlap.sum() > 50
    nearer = np.where(alone_hand.depth < alone_obj.depth, render.LABEL_HAND, render.LABEL_OBJECT)
    assert np.mean(both.mask[overlap] == nearer[overlap]) > 0.99


def test_depth_lies_on_the_surface_and_background_is_zero(hand, scene):
    obj, skin, light, background = scene
    out = render.render([render.hand_item(hand, skin), render.object_item(obj)], CAMERA, light, background)
    assert out.rgb.dtype == np.uint8 and out.mask.dtype == np.uint8 and out.depth.dtype == np.float32
    assert set(np.unique(out.mask)) == {0, 1, 2}
    assert np.all(out.depth[out.mask == 0] == 0.0)
    np.testing.assert_array_equal(out.rgb[out.mask == 0], background[out.mask == 0])
    v, u = np.nonzero(out.mask)
    z = out.depth[v, u].astype(np.float64)
    pts = np.stack([(u - CAMERA.cx) / CAMERA.fx * z, (v - CAMERA.cy) / CAMERA.fy * z, z], axis=1)
    sdf = np.where(out.mask[v, u] == 1, hand.sdf(pts), obj.sdf(pts))
    assert np.abs(sdf).max() < 1e-3


def test_same_seed_gives_identical_render(hand, joints):
    def draw(seed: int) -> render.RenderResult:
        rng = np.random.default_rng(seed)
        obj = objects.sample_object(rng, position=joints[8] + [0.0, 0.0, 0.05])
        occluder = objects.sample_occluder(rng, joints[0])
        items = [render.hand_item(hand, appearance.sample_skin(rng)), render.object_item(obj),
                 render.object_item(occluder, render.LABEL_OCCLUDER)]
        background = appearance.random_background(rng, CAMERA.height, CAMERA.width)
        return render.render(items, CAMERA, appearance.sample_lighting(rng), background)

    a, b = draw(5), draw(5)
    for name in ("rgb", "mask", "depth"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.rgb, draw(6).rgb)


def test_occluder_is_in_front(hand, joints, scene):
    _, skin, light, background = scene
    occluder = objects.SynthObject("blob", {"centres": [[0.0, 0.0, 0.0]], "radii": [0.02], "blend": 0.01},
                                   pose=objects.make_pose(np.eye(3), joints[9] * 0.7))
    hand_only = render.render([render.hand_item(hand, skin)], CAMERA, light, background)
    both = render.render([render.hand_item(hand, skin), render.object_item(occluder, render.LABEL_OCCLUDER)],
                         CAMERA, light, background)
    hidden = both.mask == render.LABEL_OCCLUDER
    assert hidden.sum() > 100
    covered = hidden & (hand_only.mask == render.LABEL_HAND)
    assert covered.sum() > 50 and np.all(both.depth[covered] < hand_only.depth[covered])


def test_motion_blur_averages_sub_frames(hand, scene):
    obj, skin, light, background = scene
    shifted = [obj.with_pose(objects.make_pose(obj.pose[:3, :3], obj.center + [dx, 0.0, 0.0]))
               for dx in (-0.01, 0.0, 0.01)]
    frames = [[render.hand_item(hand, skin), render.object_item(o)] for o in shifted]
    blurred = render.render_motion_blur(frames, CAMERA, light, background)
    middle = render.render(frames[1], CAMERA, light, background)
    np.testing.assert_array_equal(blurred.mask, middle.mask)
    single = render.render_motion_blur(frames[1:2], CAMERA, light, background)
    np.testing.assert_array_equal(single.rgb, middle.rgb)
    assert np.abs(blurred.rgb.astype(int) - middle.rgb.astype(int)).max() > 10


def test_bad_inputs_raise(hand, scene):
    _, skin, light, _ = scene
    with pytest.raises(ValueError):
        render.render([render.hand_item(hand, skin)], CAMERA, light, np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError):
        render.render([], CAMERA, light, np.zeros((256, 256, 3), np.uint8))
