"""``gsdf-eval`` on two analytic samples writes per-sample JSON lines, a summary, tables and plots."""

import json
import math

import gsdf_ros.evaluate as ev
from gsdf_ros.checkpoint import load_checkpoint_model
from gsdf_ros.cli.evaluate import main


def test_gsdf_eval_writes_reports(sdf_run, analytic_data, tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "open_eval_dataset", lambda cfg, model, train_config: analytic_data)
    out = tmp_path / "eval"
    code = main(["--checkpoint", str(sdf_run.last_checkpoint), "--data", "unused", "--limit", "2", "--resolution", "20",
                 "--mesh", "dense", "--points", "2000", "--out", str(out), "--no-progress"])
    assert code == 0
    rows = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
    assert [(r["index"], r["protocol"]) for r in rows] == [(0, "paper"), (0, "live"), (1, "paper"), (1, "live")]
    for row in rows:
        for name in ("CD_h", "FS_h@5", "CD_o", "E_h", "E_o", "wrist_error_cm"):
            assert math.isfinite(row[name]), (row["protocol"], name, row.get("hand_reason"), row.get("object_reason"))
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"meta", "paper", "live"} and summary["paper"]["CD_h"]["count"] == 2
    table = (out / "results.md").read_text()
    assert "## paper" in table and "## live" in table and "| median |" in table
    for protocol in ("paper", "live"):
        assert (out / f"hist_{protocol}.png").stat().st_size > 0
        for label in ("best", "median", "worst"):
            assert (out / f"render_{protocol}_{label}.png").stat().st_size > 0


def test_paper_protocol_places_meshes_at_the_ground_truth_wrist(sdf_run, analytic_data):
    model, _ = load_checkpoint_model(sdf_run.last_checkpoint)
    sample = analytic_data[1]
    pred = ev.reconstruct_sample(model, sample, "paper", "c2f", 20, 8)
    expected = sample["wrist"].double().numpy() @ sample["cam_rot"].double().numpy().T
    assert abs(pred.wrist - expected).max() < 1e-6


def test_scoring_processes_give_the_rows_of_in_process_scoring(sdf_run, analytic_data, tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "open_eval_dataset", lambda cfg, model, train_config: analytic_data)
    monkeypatch.setattr(ev, "plot_histograms", lambda *args, **kwargs: None)
    monkeypatch.setattr(ev, "render_example", lambda *args, **kwargs: None)
    rows = {}
    for workers in (1, 2):
        out = tmp_path / f"eval_{workers}"
        code = main(["--checkpoint", str(sdf_run.last_checkpoint), "--data", "unused", "--limit", "2",
                     "--resolution", "20", "--mesh", "dense", "--points", "2000", "--out", str(out), "--no-progress",
                     "--workers", str(workers)])
        assert code == 0
        lines = (out / "per_sample.jsonl").read_text().splitlines()
        rows[workers] = [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]
    assert len(rows[1]) == 4 and math.isfinite(rows[1][0]["CD_h"])
    assert rows[2] == rows[1]
