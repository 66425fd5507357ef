"""``gsdf-eval --clip-len T``: consecutive non-overlapping test clips, the last padded with preceding
frames, every frame scored exactly once; the window can be lowered, never raised."""

from __future__ import annotations

import json
import math

from gsdf_ros.cli.evaluate import main

ALL_TEST_FRAMES = [f"{i:08d}" for i in (11, 12, 13, 14, 15, 16, 17)]


def _eval(checkpoint, root, out, *extra: str) -> int:
    return main(["--checkpoint", str(checkpoint), "--data", str(root), "--split", "test", "--protocol", "paper",
                 "--mesh", "dense", "--resolution", "8", "--points", "300", "--out", str(out), "--no-progress", *extra])


def _rows(out) -> list[dict]:
    return [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]


def test_clips_of_three_score_every_frame_once(video_checkpoint, clip_root, tmp_path, no_plots):
    assert _eval(video_checkpoint, clip_root, tmp_path / "t3", "--clip-len", "3") == 0
    rows = _rows(tmp_path / "t3")
    assert sorted(r["id"] for r in rows) == ALL_TEST_FRAMES
    # windows [11,12,13], [13,14,15] (13 is padding there) and [16,17,17] (the repeated 17 is padding)
    assert [(r["index"], r["frame"]) for r in rows] == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 0), (2, 1)]
    assert all(math.isfinite(r["E_h"]) and math.isfinite(r["E_o"]) for r in rows)
    meta = json.loads((tmp_path / "t3" / "summary.json").read_text())["meta"]
    assert (meta["clip_len"], meta["items"], meta["samples"]) == (3, 3, 7)


def test_one_frame_clips_of_a_video_model_cover_the_same_frames(video_checkpoint, clip_root, tmp_path, no_plots):
    assert _eval(video_checkpoint, clip_root, tmp_path, "--clip-len", "1") == 0
    assert [r["id"] for r in _rows(tmp_path)] == ALL_TEST_FRAMES


def test_a_longer_window_than_trained_is_an_error(video_checkpoint, clip_root, tmp_path, capsys):
    assert _eval(video_checkpoint, clip_root, tmp_path, "--clip-len", "4") == 2
    assert "window_length 4 exceeds the checkpoint's 3 frames" in capsys.readouterr().err
