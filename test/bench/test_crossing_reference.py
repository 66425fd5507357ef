"""The crossing bench's reference: the shipped model on hand-centred crops of the clip frames."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
ROOT = BENCH.parent


@pytest.fixture(scope="module")
def crossing_graph():
    pytest.importorskip("rclpy")
    sys.path.insert(0, str(BENCH))
    try:
        import crossing_graph
    finally:
        sys.path.remove(str(BENCH))
    return crossing_graph


def test_reference_figures_pair_the_frames_the_graph_answered_with_joints(crossing_graph) -> None:
    reference = [[2.0, 4.0, 6.0], [1.0, 3.0]]
    per_clip = [[{"frame": 0, "E_h_cm": 3.0}, {"frame": 2, "E_h_cm": 9.0}, {"frame": 1}],  # frame 1: "no hand"
                [{"frame": 1, "E_h_cm": 3.0}]]
    out = crossing_graph.reference_figures(reference, per_clip)
    assert out["hand_centred_E_h_cm_mean"] == 3.2  # every frame of the reference
    assert out["hand_centred_E_h_cm_per_clip"] == [4.0, 2.0]
    assert out["graph_over_hand_centred"] == round((3.0 + 9.0 + 3.0) / (2.0 + 6.0 + 3.0), 3)
    assert crossing_graph.reference_figures([[1.0]], [[{"frame": 0}]])["graph_over_hand_centred"] is None


def test_hand_centred_crops_of_a_short_clip_give_the_shipped_model_a_readable_hand(crossing_graph, tmp_path) -> None:
    model = ROOT / "models" / "gsdf_tiny_synthho.pt"
    if not model.is_file():
        pytest.skip("the shipped model is not in this checkout")
    config = crossing_graph.CrossingConfig(frames=3)
    clip = crossing_graph.clip_frames(tmp_path, 900, config)
    for looks in (1, 9):  # the hand crop alone; the node's default looks around it
        (errors,) = crossing_graph.hand_centred_errors([clip], str(model), 256, looks)
        assert len(errors) == 3 and all(np.isfinite(errors))
        assert 0.0 < np.mean(errors) < 10.0, (looks, errors)  # cm: a collapsed or misplaced skeleton is tens of cm off
