"""``bench/video_compare.py`` scores the same frames for every T and reports metrics and latency."""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "video_compare.py"


def test_compare_writes_a_table_and_json(single_checkpoint, video_checkpoint, clip_root, tmp_path, capsys, no_plots):
    main = runpy.run_path(str(BENCH))["main"]
    code = main(["--data", str(clip_root), "--run", f"3={video_checkpoint}", "--run", f"1={single_checkpoint}",
                 "--mesh", "dense", "--resolution", "8", "--points", "300", "--reps", "1", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "video_compare.json").read_text())
    assert report["same_frames"] and [r["T"] for r in report["runs"]] == [1, 3]
    for row in report["runs"]:
        assert row["frames"] == 7 and math.isfinite(row["E_h"]) and math.isfinite(row["E_o"])
        assert 0 < row["encode_ms"] < math.inf and 0 < row["predict_ms"] < math.inf
    table = (tmp_path / "video_compare.md").read_text()
    header = "| T | frames | CD_h (cm²) | CD_o (cm²) | E_h (cm) | E_o (cm) |"
    assert header in table and table in capsys.readouterr().out
