"""Write the record that sits beside the shipped hand detector: how it was made and how well it does.

Reads the checkpoint (configs, seed, data fingerprint, git commit, epochs), the training log beside
the training run, and the folder written by gsdf-eval-detector (report.json) and
bench/bench_detector.py (bench.json) on the held-out scenes.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml

from gsdf_ros.detect.train import load_detector


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="gsdf-eval-detector --out folder (+ bench.json)")
    parser.add_argument("--scenes", required=True, help="the command that made the training scenes")
    parser.add_argument("--heldout", required=True, help="the command that made the held-out scenes")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model, state = load_detector(args.checkpoint)
    train_cfg = state["train_config"]
    report = json.loads((args.eval / "report.json").read_text())
    bench_path = args.eval / "bench.json"
    bench = json.loads(bench_path.read_text()) if bench_path.is_file() else None
    log_path = Path(train_cfg["out_dir"]) / "train_log.csv"
    losses = []
    if log_path.is_file():
        with log_path.open() as f:
            rows = list(csv.DictReader(f))
        for epoch in sorted({int(r["epoch"]) for r in rows}):
            last = [r for r in rows if int(r["epoch"]) == epoch][-50:]
            losses.append((epoch + 1, sum(float(r["loss"]) for r in last) / len(last)))
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
        "## Held-out scores (`gsdf-eval-detector`)",
        "",
        f"- Recall at IoU >= 0.5 on {report['hand_frames']} frames with a hand: **{report['recall@0.5']:.3f}** "
        f"(hand score threshold {report['threshold']}).",
        f"- Frames without a hand called \"hand\": **{report['false_hand_rate']:.3f}** of {report['empty_frames']}.",
        "",
        "| hand size in the camera frame | frames | recall@0.5 |",
        "|---|---|---|",
    ]
    for name, row in report["recall_by_hand_size"].items():
        lines.append(f"| {name} | {row['frames']} | {row['recall@0.5']:.3f} |")
    if bench:
        lines += ["", f"## Time per whole frame (`bench/bench_detector.py`, {bench['threads']} torch threads, CPU)", "",
                  "| frame | median ms | p90 ms |", "|---|---|---|"]
        lines += [f"| {size} | {row['median_ms']} | {row['p90_ms']} |" for size, row in bench["per_frame"].items()]
    if losses:
        lines += ["", "## Training loss (mean of each epoch's last 50 steps)", "", "| epoch | loss |", "|---|---|"]
        lines += [f"| {epoch} | {loss:.4f} |" for epoch, loss in losses]
    lines += ["", "## Training config", "", "```yaml", yaml.safe_dump(train_cfg, sort_keys=False).rstrip(), "```", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
