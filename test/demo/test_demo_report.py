"""The demo's scoring and report: perfect and shifted live results against SynthHO ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gsdf_ros.data import layout
from gsdf_ros.demo_report import DemoRun, LiveFrame, summary_line, timing_summary, write_report
from gsdf_ros.overlay import draw_mesh
from gsdf_ros.result import Reconstruction, TriangleMesh
from gsdf_ros.synth.generate import SynthConfig, write_dataset


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    config = SynthConfig(size=96, clip_len=3, val_frac=0.0, test_frac=1.0, sdf_surface=200, sdf_uniform=50)
    write_dataset(root, 1, seed=3, config=config)
    return root


def _live(root: Path, shift: float, stamp0: int = 10**18) -> list[LiveFrame]:
    """Results equal to the ground truth, moved by `shift` metres along x."""
    frames = []
    for i, ann in enumerate(sorted(layout.read_annotations(root, "test").values(), key=lambda a: a.id)):
        meshes = [layout.read_mesh(root, kind, ann.file_name) for kind in ("hand", "obj")]
        move = np.array([shift, 0.0, 0.0])
        hand, obj = (TriangleMesh(np.asarray(m.vertices) + move, np.asarray(m.faces)) for m in meshes)
        stamp = stamp0 + i * 100_000_000
        rec = Reconstruction(stamp, "cam", ann.hand_joints_3d + move, np.ones(21), ann.obj_center_3d + move,
                             hand_mesh=hand, object_mesh=obj, mesh_stamp_ns=stamp,
                             stage_ms={"backbone": 5.0, "sdf_grid": 20.0})
        frames.append(LiveFrame(ann.file_name, rec, stamp + (i + 1) * 50_000_000))
    return frames


def test_perfect_results_score_zero_and_the_report_is_complete(clips: Path, tmp_path: Path) -> None:
    run = DemoRun(frames_sent=4, results=_live(clips, 0.0), seconds=2.0, checkpoint="ckpt.pt",
                  source=f"synthho:{clips}:test")
    report = write_report(run, clips, "test", tmp_path, n_points=3000)
    m = report["metrics"]
    assert m["E_h"]["mean"] == pytest.approx(0.0, abs=1e-9) and m["E_o"]["mean"] == pytest.approx(0.0, abs=1e-9)
    # cm²: with 3,000 samples per surface two samplings of the same mesh differ by ~0.1 cm² (noise only)
    assert m["CD_h"]["mean"] < 0.2 and m["CD_o"]["mean"] < 0.2
    assert m["E_h"]["count"] == 3
    t = report["timing"]
    assert (t["results"], t["dropped"]) == (3, 1)
    assert t["latency_ms_median"] == pytest.approx(100.0)
    assert t["stage_ms_mean"] == {"backbone": 5.0, "sdf_grid": 20.0}
    assert {"report.md", "report.json", "demo.gif"} <= {p.name for p in tmp_path.iterdir()}
    assert json.loads((tmp_path / "report.json").read_text())["pictures"][-1] == "demo.gif"
    assert "| E_h" in (tmp_path / "report.md").read_text() or "E_h" in (tmp_path / "report.md").read_text()
    assert summary_line(report).startswith("gsdf-demo: 3/4 frames reconstructed, E_h 0.00 cm")


def test_no_hand_answers_are_counted_not_scored(clips: Path, tmp_path: Path) -> None:
    frames = _live(clips, 0.0)
    first = frames[0]
    frames[0] = LiveFrame(first.name, Reconstruction.no_hand(first.result.stamp_ns, "cam", 0.2), first.received_ns)
    run = DemoRun(frames_sent=3, results=frames, seconds=2.0, checkpoint="ckpt.pt", source=f"synthho:{clips}:test")
    report = write_report(run, clips, "test", tmp_path, n_points=2000)
    assert report["metrics"]["E_h"]["count"] == 2 and report["timing"]["no_hand"] == 1
    assert summary_line(report).startswith("gsdf-demo: 2/3 frames reconstructed")
    assert '1 answered "no hand"' in (tmp_path / "report.md").read_text()


def test_a_shifted_result_shows_the_shift_in_cm(clips: Path, tmp_path: Path) -> None:
    run = DemoRun(frames_sent=3, results=_live(clips, 0.02), seconds=1.0, checkpoint="c", source="s")
    report = write_report(run, clips, "test", tmp_path, n_points=2000)
    assert report["metrics"]["E_h"]["mean"] == pytest.approx(2.0, abs=1e-6)
    assert report["metrics"]["E_o"]["mean"] == pytest.approx(2.0, abs=1e-6)
    # the paper's ICP (scale + translation) removes a pure shift from the mesh metrics
    assert report["metrics"]["CD_h"]["mean"] < 0.3


def test_a_wrong_shape_scores_far_worse_than_sampling_noise(clips: Path, tmp_path: Path) -> None:
    frames = _live(clips, 0.0)
    for f in frames:  # predict the object's surface as the hand
        f.result = Reconstruction(f.result.stamp_ns, "cam", f.result.hand_joints, f.result.joint_confidence,
                                  f.result.object_center, hand_mesh=f.result.object_mesh,
                                  object_mesh=f.result.object_mesh)
    report = write_report(DemoRun(3, frames, 1.0, "c", "s"), clips, "test", tmp_path, n_points=2000)
    assert report["metrics"]["CD_h"]["mean"] > 1.0


def test_results_for_unknown_frames_are_refused(clips: Path, tmp_path: Path) -> None:
    frames = _live(clips, 0.0)
    frames[0].name = "99999999"
    with pytest.raises(ValueError, match="does not have"):
        write_report(DemoRun(3, frames, 1.0, "c", "s"), clips, "test", tmp_path)


def test_timing_without_results_is_nan_not_an_error() -> None:
    t = timing_summary(DemoRun(5, [], 1.0, "c", "s"))
    assert t["dropped"] == 5 and np.isnan(t["latency_ms_median"]) and np.isnan(t["output_rate_hz"])


def test_mesh_overlay_colours_the_projected_triangle_only() -> None:
    from gsdf_ros.geometry.camera import Intrinsics

    k = Intrinsics(100.0, 100.0, 31.5, 31.5, 64, 64)
    image = np.zeros((64, 64, 3), np.uint8)
    tri = np.array([[-0.05, -0.05, 0.5], [0.05, -0.05, 0.5], [0.0, 0.05, 0.5]])
    out = draw_mesh(image, tri, np.array([[0, 1, 2]]), k, (255, 0, 0), alpha=1.0)
    assert out[31, 31, 0] > 100 and out[31, 31, 1] == 0  # centre of the triangle is red
    assert out[2, 2].sum() == 0 and out[60, 60].sum() == 0  # far from it untouched
    behind = draw_mesh(image, tri * np.array([1, 1, -1]), np.array([[0, 1, 2]]), k, (255, 0, 0), alpha=1.0)
    assert behind.sum() == 0  # triangles behind the camera are not drawn
