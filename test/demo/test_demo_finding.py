"""The demo's hand-finding part: its whole-frame source, per-frame scoring and report section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gsdf_ros.demo_finding import (
    FindingSource,
    score_finding_frame,
    write_finding_report,
    write_finding_source,
)
from gsdf_ros.demo_report import LiveFrame, report_markdown
from gsdf_ros.metrics import summarize
from gsdf_ros.result import Reconstruction


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("finding")
    return folder, write_finding_source(folder, FindingSource(seed=5, clip_frames=3, noise_frames=1,
                                                              hand_free_frames=1))


def _true_result(truth: dict, stamp: int) -> Reconstruction:
    joints = np.asarray(truth["joints"])
    uv = np.asarray(truth["joints_2d"])
    x0, y0 = uv.min(axis=0) - 10.0
    side = float(np.ptp(uv, axis=0).max()) + 20.0
    return Reconstruction(stamp, "cam", joints, np.ones(21), joints.mean(axis=0), hand_score=0.9,
                          crop_box=(float(x0), float(y0), side))


def test_the_source_holds_a_crossing_clip_then_frames_without_a_hand(source) -> None:
    folder, truth = source
    names = sorted(p.name for p in (folder / "frames").iterdir())
    assert names == sorted(truth["frames"])
    assert [truth["frames"][n]["kind"] for n in names] == ["hand", "hand", "hand", "noise", "hand_free"]
    first = truth["frames"][names[0]]
    uv = np.asarray(first["joints_2d"])
    assert np.all((uv >= 0) & (uv < np.asarray(truth["size"])))  # the hand is inside the 640x480 frame
    # the joints project onto their pixels with the camera the demo camera gives the folder
    k = np.asarray(truth["K"])
    joints = np.asarray(first["joints"])
    assert np.allclose((joints @ k.T)[:, :2] / joints[:, 2:3], uv, atol=0.02)
    assert write_finding_source(folder, FindingSource(5, 3, 1, 1)) == truth  # kept, not rendered again


def test_a_found_hand_is_covered_and_a_no_hand_answer_is_not(source) -> None:
    _, truth = source
    frame = next(f for f in truth["frames"].values() if f["kind"] == "hand")
    found = score_finding_frame(frame, _true_result(frame, 1))
    assert found["covered"] and found["hand_reported"] and found["E_h"] == pytest.approx(0.0, abs=1e-9)
    missed = score_finding_frame(frame, Reconstruction.no_hand(1, "cam", 0.2))
    assert not missed["covered"] and not missed["hand_reported"] and missed["E_h"] is None
    shifted = Reconstruction(1, "cam", np.asarray(frame["joints"]) + [0.03, 0.0, 0.0], np.ones(21), np.zeros(3),
                             crop_box=(-1e4, -1e4, 10.0))
    row = score_finding_frame(frame, shifted)
    assert row["E_h"] == pytest.approx(3.0) and row["joints_in_crop"] == 0.0 and not row["covered"]


def test_the_report_counts_found_hands_and_false_hands(source, tmp_path: Path) -> None:
    folder, truth = source
    results = []
    for i, (name, frame) in enumerate(sorted(truth["frames"].items())):
        if frame["kind"] == "hand":
            rec = _true_result(frame, i) if i != 1 else Reconstruction.no_hand(i, "cam", 0.1)
        elif frame["kind"] == "noise":
            rec = Reconstruction.no_hand(i, "cam", 0.05)
        else:  # a false hand on the rendered hand-free scene
            rec = Reconstruction(i, "cam", np.full((21, 3), 0.5), np.ones(21), np.zeros(3), hand_score=0.7,
                                 crop_box=(10.0, 10.0, 100.0))
        results.append(LiveFrame(name, rec, i))
    report = write_finding_report(results, folder, tmp_path)
    s = report["summary"]
    assert (s["clip_frames"], s["clip_frames_answered"], s["clip_frames_hand_reported"]) == (3, 3, 2)
    assert s["clip_frames_covered"] == 2 and s["clip_E_h_mean"] == pytest.approx(0.0, abs=1e-9)
    assert (s["hand_free_frames"], s["hand_free_frames_hand_reported"]) == (2, 1)
    assert "finding.gif" in report["pictures"] and (tmp_path / "finding.gif").is_file()
    json.dumps(report)  # the demo stores it in report.json
    with pytest.raises(ValueError, match="does not have"):
        write_finding_report([LiveFrame("nope.jpg", results[0].result, 0)], folder, tmp_path)


def test_the_demo_report_shows_the_finding_section(source, tmp_path: Path) -> None:
    folder, truth = source
    name, frame = next((n, f) for n, f in sorted(truth["frames"].items()) if f["kind"] == "hand")
    finding = write_finding_report([LiveFrame(name, _true_result(frame, 0), 0)], folder, tmp_path)
    report = {"timing": {"frames_sent": 1, "results": 1, "dropped": 0, "wall_s": 1.0, "latency_ms_median": 1.0,
                         "latency_ms_p90": 1.0, "output_rate_hz": float("nan"), "stage_ms_mean": {}},
              "metrics": summarize([{"E_h": 1.0}]), "pictures": [], "checkpoint": "c.pt", "source": "s",
              "finding": finding}
    text = report_markdown(report)
    assert "## Finding the hand in whole 640x480 frames" in text and "| 1/3 | 1 | 1 (100%)" in text
