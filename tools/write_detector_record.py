"""Write the record that sits beside the shipped hand detector: how it was made and how well it does.

Reads the checkpoint (configs, seed, data fingerprint, git commit, epochs), the training log beside
the training run, and the folders written by gsdf-eval-detector (report.json) on the held-out scenes:
the detector alone (``--eval``, with bench/bench_detector.py's bench.json) and, as the inference node
runs it, its candidates verified by the default model's pose net (``--verified``).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml

from gsdf_ros.detect.train import load_detector


def score_lines(report: dict) -> list[str]:
    """Recall, false hands and recall per hand size of one gsdf-eval-detector report, as Markdown."""
    lines = [
        f"- Recall at IoU >= 0.5 on {report['hand_frames']} frames with a hand: **{report['recall@0.5']:.3f}** "
        f"(hand score threshold {report['threshold']}).",
        f"- Frames without a hand called \"hand\": **{report['false_hand_rate']:.3f}** of {report['empty_frames']}.",
        "",
        "| hand size in the camera frame | frames | recall@0.5 |",
        "|---|---|---|",
    ]
    sizes = report["recall_by_hand_size"].items()
    return lines + [f"| {name} | {row['frames']} | {row['recall@0.5']:.3f} |" for name, row in sizes]


def time_lines(per_frame: dict) -> list[str]:
    """A bench_detector.py table (frame size -> median and p90 ms) as Markdown."""
    rows = [f"| {size} | {row['median_ms']} | {row['p90_ms']} |" for size, row in per_frame.items()]
    return ["| frame | median ms | p90 ms |", "|---|---|---|"] + rows


def epoch_losses(log_path: Path) -> list[tuple[int, float]]:
    """(epoch, mean loss of its last 50 steps) from a train_log.csv; empty when there is none."""
    if not log_path.is_file():
        return []
    with log_path.open() as f:
        rows = list(csv.DictReader(f))
    losses = []
    for epoch in sorted({int(r["epoch"]) for r in rows}):
        last = [r for r in rows if int(r["epoch"]) == epoch][-50:]
        losses.append((epoch + 1, sum(float(r["loss"]) for r in last) / len(last)))
    return losses


def training_lines(losses: list[tuple[int, float]], train_cfg: dict) -> list[str]:
    """The record's closing sections: the loss per epoch (when logged) and the training config."""
    lines = []
    if losses:
        lines += ["", "## Training loss (mean of each epoch's last 50 steps)", "", "| epoch | loss |", "|---|---|"]
        lines += [f"| {epoch} | {loss:.4f} |" for epoch, loss in losses]
    return lines + ["", "## Training config", "", "```yaml", yaml.safe_dump(train_cfg, sort_keys=False).rstrip(),
                    "```", ""]


def eval_and_bench(folder: Path) -> tuple[dict, dict | None]:
    """A gsdf-eval-detector --out folder's report.json and, when there, its bench.json."""
    bench_path = folder / "bench.json"
    bench = json.loads(bench_path.read_text()) if bench_path.is_file() else None
    return json.loads((folder / "report.json").read_text()), bench


def write_record(path: Path, lines: list[str]) -> int:
    """Write the record's lines to ``path`` and say so; the command's exit status."""
    path.write_text("\n".join(lines))
    print(f"wrote {path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="gsdf-eval-detector --out folder (+ bench.json)")
    parser.add_argument("--verified", type=Path, default=None,
                        help="gsdf-eval-detector --verify-with ... --out folder (the detection the node makes)")
    parser.add_argument("--calibration", default=None, help="the command that made the threshold's calibration scenes")
    parser.add_argument("--scenes", required=True, help="the command that made the training scenes")
    parser.add_argument("--heldout", required=True, help="the command that made the held-out scenes")
    parser.add_argument("--log", type=Path, default=None,
                        help="the run's train_log.csv (default: the one in the training config's out_dir)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model, state = load_detector(args.checkpoint)
    train_cfg = state["train_config"]
    report, bench = eval_and_bench(args.eval)
    losses = epoch_losses(args.log or Path(train_cfg["out_dir"]) / "train_log.csv")
    params = sum(p.numel() for p in model.parameters())
    lines = [
        f"# {args.checkpoint.name}: the hand detector",
        "",
        "Made by `tools/make_detector.sh` (the package's own commands); every setting is in the training",
        "config below, stored in the checkpoint.",
        "",
        f"- Network: centre heatmap + box size + offset on a {model.cfg.canvas[0]}x{model.cfg.canvas[1]} canvas, "
        f"{params:,} parameters.",
        f"- Training data: `{args.scenes}` (SynthHO whole-frame scenes; data fingerprint "
        f"`{state.get('data_fingerprint')}`).",
        f"- Trained {state['epoch']} epochs, {state['step']} steps, seed {state['seed']}, git commit "
        f"`{state.get('git_commit')}`.",
        f"- Held-out test set (never trained on): `{args.heldout}`.",
        "",
    ]
    verified = json.loads((args.verified / "report.json").read_text()) if args.verified else None
    if verified:
        weight = verified.get("detector_weight") or 0.5  # reports from before the weight were plain geometric means
        lines += [
            "## As the inference node runs it: candidates verified by the pose net (held-out)",
            "",
            f"`gsdf-eval-detector --verify-with {verified['verified_with']} --proposals {verified['proposals']}`: "
            "the detector's best candidates, each looked at twice by the default model's pose net (the candidate's "
            f"crop, then a crop around the first look's joints); hand score = detector score ^ {weight} x mean joint "
            f"confidence ^ {1.0 - weight:.1f}, "
            "box = the joints' box pushed out by the flesh margin (`gsdf_ros/detect/verify.py`).",
            "",
        ]
        lines += score_lines(verified)
        if args.calibration:
            lines += ["", "The weight and the threshold were chosen on calibration scenes apart from both sets: "
                      f"`{args.calibration}`."]
        lines += [""]
    lines += ["## The detector alone (held-out)", ""] + score_lines(report)
    if bench:
        lines += ["", f"## Time per whole frame (`bench/bench_detector.py`, {bench['threads']} torch threads, CPU)", ""]
        lines += ["The detector alone:", ""] + time_lines(bench["per_frame"])
        if "verified" in bench:
            checked = bench["verified"]
            lines += ["", f"Verified by the pose net ({checked['proposals']} candidates, `--verify-with "
                      f"{checked['model']}`): detector and pose-net looks together.", ""]
            lines += time_lines(checked["per_frame"])
    return write_record(args.out, lines + training_lines(losses, train_cfg))


if __name__ == "__main__":
    raise SystemExit(main())
