"""Write the record that sits beside the shipped hand check: how it was made and how well the detection
the inference node makes with it does.

Reads the checkpoint (configs, seed, data fingerprint, git commit, epochs), the training log beside the
training run, the folders written by ``gsdf-eval-detector --verify-with ... --check-with ...`` (report.json)
on the held-out scenes (``--eval``) and on the calibration scenes (``--calibration-eval``, one or more), and
bench/bench_detector.py's bench.json in the held-out folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from write_detector_record import epoch_losses, eval_and_bench, score_lines, time_lines, training_lines, write_record

from gsdf_ros.detect.check_train import load_check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True,
                        help="gsdf-eval-detector --verify-with ... --check-with ... --out folder, held-out "
                             "(+ bench.json)")
    parser.add_argument("--calibration-eval", type=Path, nargs="*", default=[],
                        help="the same on each calibration scene set")
    parser.add_argument("--calibration", nargs="*", default=[], help="the commands that made the calibration scenes")
    parser.add_argument("--scenes", required=True, help="the command that made the training scenes")
    parser.add_argument("--heldout", required=True, help="the command that made the held-out scenes")
    parser.add_argument("--command", required=True, help="the training command")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model, state = load_check(args.checkpoint)
    train_cfg = state["train_config"]
    report, bench = eval_and_bench(args.eval)
    losses = epoch_losses(Path(train_cfg["out_dir"]) / "train_log.csv")
    params = sum(p.numel() for p in model.parameters())
    lines = [
        f"# {args.checkpoint.name}: the hand check",
        "",
        "Made by `tools/make_detector.sh` (the package's own commands); every setting is in the training",
        "config below, stored in the checkpoint.",
        "",
        f"- Network: a ResNet reading a {model.cfg.size} px square cut {model.cfg.enlarge} times a candidate's "
        f"box from the full-resolution frame; hand logit + the hand's box; {params:,} parameters.",
        f"- Trained by `{args.command}` on the candidates of `{train_cfg['detector']}` in `{args.scenes}` "
        f"(data fingerprint `{state.get('data_fingerprint')}`).",
        f"- Trained {state['epoch']} epochs, {state['step']} steps, seed {state['seed']}, git commit "
        f"`{state.get('git_commit')}`.",
        f"- Held-out test set (never trained or tuned on): `{args.heldout}`.",
        "",
        "## As the inference node runs it (held-out)",
        "",
        f"`gsdf-eval-detector --checkpoint {report.get('checkpoint', 'models/hand_detector.pt')} --verify-with "
        f"{report['verified_with']} --check-with {report['checked_with']}`: the detector's {report['proposals']} "
        "best candidates verified by the pose net, then each verified box judged by the check; hand score = "
        f"verified score ^ {1.0 - report['check_weight']:.1f} x check probability ^ {report['check_weight']}, box "
        "blended from the joints' box and the check's (`gsdf_ros/detect/verify.py`).",
        "",
    ] + score_lines(report)
    for command, folder in zip(args.calibration, args.calibration_eval):
        calibration = json.loads((folder / "report.json").read_text())
        lines += ["", f"Calibration scenes `{command}` (where the weight, the box share and the threshold were "
                  "chosen):", ""] + score_lines(calibration)
    if bench and "checked" in bench:
        lines += ["", f"## Time per whole frame (`bench/bench_detector.py`, {bench['threads']} torch threads, CPU)",
                  "", "Detector, pose-net looks and the check together:", ""]
        lines += time_lines(bench["checked"]["per_frame"])
        if "verified" in bench:
            lines += ["", "Without the check:", ""] + time_lines(bench["verified"]["per_frame"])
    return write_record(args.out, lines + training_lines(losses, train_cfg))


if __name__ == "__main__":
    raise SystemExit(main())
