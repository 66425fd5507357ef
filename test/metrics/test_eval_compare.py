"""Comparing two evaluations sample by sample: means, relative change and win counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gsdf_ros.eval_compare import compare_rows, main, read_rows


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "per_sample.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def test_wins_ties_and_missing_values_are_counted_per_protocol(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", [
        {"id": 1, "protocol": "paper", "CD_h": 1.0}, {"id": 2, "protocol": "paper", "CD_h": 3.0},
        {"id": 3, "protocol": "paper", "CD_h": 2.0}, {"id": 4, "protocol": "paper", "CD_h": None},
        {"id": 1, "protocol": "live", "CD_h": 5.0}, {"id": 9, "protocol": "paper", "CD_h": 0.1},
    ])
    b = _write(tmp_path / "b", [
        {"id": 1, "protocol": "paper", "CD_h": 2.0}, {"id": 2, "protocol": "paper", "CD_h": 1.0},
        {"id": 3, "protocol": "paper", "CD_h": 2.0}, {"id": 4, "protocol": "paper", "CD_h": 1.0},
        {"id": 1, "protocol": "live", "CD_h": 4.0},
    ])
    result = compare_rows(read_rows(a), read_rows(b), ["CD_h"])
    paper = result["paper"]["CD_h"]
    assert (paper["wins_a"], paper["wins_b"], paper["ties"], paper["left_out"], paper["n"]) == (1, 1, 1, 1, 3)
    assert paper["mean_a"] == pytest.approx(2.0) and paper["mean_b"] == pytest.approx(5.0 / 3.0)
    assert paper["change"] == pytest.approx(0.2)
    live = result["live"]["CD_h"]
    assert (live["wins_a"], live["wins_b"], live["n"]) == (0, 1, 1)


def test_a_higher_f_score_is_a_win(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", [{"id": 1, "protocol": "paper", "FS_h@5": 0.6, "CD_h": 2.0}])
    b = _write(tmp_path / "b", [{"id": 1, "protocol": "paper", "FS_h@5": 0.4, "CD_h": 1.0}])
    result = compare_rows(read_rows(a), read_rows(b), ["FS_h@5", "CD_h"])["paper"]
    assert (result["FS_h@5"]["wins_a"], result["CD_h"]["wins_a"]) == (1, 0)


def test_the_command_prints_a_table_and_refuses_runs_without_shared_samples(tmp_path: Path, capsys) -> None:
    a = _write(tmp_path / "a", [{"id": 1, "protocol": "paper", "E_h": 1.0}])
    b = _write(tmp_path / "b", [{"id": 1, "protocol": "paper", "E_h": 2.0}])
    args = [str(a), str(b), "--names", "gSDF", "nokin", "--metrics", "E_h", "--json", str(tmp_path / "c.json")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| E_h | 1 | 2 | -50.0% | 1 | 0 | 0 | 1 |" in out
    assert json.loads((tmp_path / "c.json").read_text())["result"]["paper"]["E_h"]["wins_a"] == 1
    other = _write(tmp_path / "c", [{"id": 7, "protocol": "paper", "E_h": 1.0}])
    assert main([str(a), str(other)]) == 2
    assert main([str(a), str(tmp_path / "missing")]) == 2
    assert compare_rows({}, {}) == {}
