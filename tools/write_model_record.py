"""Write the record that sits beside the shipped default checkpoint: how it was made and how well it does.

Reads the checkpoint (configs, seed, data fingerprint, git commit, epochs), the pose net's training
config, the held-out evaluations written by ``gsdf-eval`` (whole model) and ``gsdf-eval-pose`` (pose
net alone, on the larger pose-only held-out set) and the pose net's learning curves (every
``curve.csv`` under ``runs/NAME_curve`` of each pose run NAME present). With ``--earlier-record REV`` the
pose-net sections of the record at git revision REV are kept in it, for the runs whose folders are gone.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
from pathlib import Path

import gsdf_ros
from gsdf_ros.checkpoint import load_checkpoint
from gsdf_ros.pose_eval import pose_table

POSE_SYNTH = ("gsdf-synth --out data/synth_pose --num 5000 --views 4 --pose-only --seed 101 --val-frac 0.02 "
              "--test-frac 0.0 --image-format jpg --workers 2")
POSE_HELDOUT = ("gsdf-synth --out data/synth_pose_heldout --num 400 --pose-only --seed 7 --val-frac 0.0 "
                "--test-frac 1.0 --image-format jpg --workers 2")
SDF_SYNTH = "gsdf-synth --out data/synth --num 1300 --seed 1 --workers 2 --val-frac 0.09 --test-frac 0.0"
SDF_HELDOUT = "gsdf-synth --out data/synth_heldout --num 240 --seed 7 --workers 2 --val-frac 0.0 --test-frac 1.0"
FINE_TUNING_SEEDS = (102, 103)
"""Seeds of the pose-only images the pose net was fine-tuned on after its first training (``tiny_pose_fresh``,
``tiny_pose_fresh2``)."""


def pose_synth_seed(seed: int) -> str:
    """The command that makes ``data/synth_pose_SEED`` (``tools/pose_experiment.sh``'s ``seed_data``)."""
    return (f"gsdf-synth --out data/synth_pose_{seed} --num 1250 --views 4 --pose-only --seed {seed} --val-frac 0.02 "
            "--test-frac 0.0 --image-format jpg --workers 2")


POSE_RUNS = ("tiny_pose", "tiny_pose_depth", "tiny_pose_grow", "tiny_pose_fresh", "tiny_pose_fresh2")
"""The pose net's training runs in order (each ``configs/NAME.yaml``, writing ``runs/NAME``); the last one
present is the shipped pose net."""
POSE_RUN_TITLES = {
    "tiny_pose": "the pose net",
    "tiny_pose_depth": "its fine-tuning for the wrist's depth",
    "tiny_pose_grow": "grown to two residual blocks per stage and fine-tuned",
    "tiny_pose_fresh": "fine-tuned on 4,900 images of another seed",
    "tiny_pose_fresh2": "fine-tuned again on 4,900 images of a third seed",
}
RECORD = "models/gsdf_tiny_synthho.md"
POSE_SECTION, MODEL_SECTION = "## The pose net on its held-out set", "## The whole model on its held-out set"


def seconds(runs: Path, name: str) -> str:
    path = runs / f"{name}.seconds"
    return f"{int(path.read_text()) / 60:.1f} min" if path.is_file() else "not recorded"


def before_run(command: str) -> str:
    """The run folder's name of an earlier shape-net training 'CONFIG KEY=VALUE ...' (its out_dir override,
    else the config's name)."""
    words = command.split()
    out = [w.split("=", 1)[1] for w in words[1:] if w.startswith("out_dir=")]
    return Path(out[-1]).name if out else Path(words[0]).stem


def learning_curve(folder: Path) -> list[dict]:
    """Rows (epoch, step, split, protocol, E_h, ...) of every ``curve.csv`` under ``folder``, by epoch."""
    rows: dict[tuple, dict] = {}
    for path in sorted(folder.glob("*/curve.csv")):
        with path.open() as f:
            for row in csv.DictReader(f):
                rows[(int(row["epoch"]), row["split"], row["protocol"])] = row
    return [rows[k] for k in sorted(rows)]


def curve_table(rows: list[dict]) -> str:
    """Steps -> training-set and held-out E_h (cm), both protocols; '-' where not measured."""
    by_epoch: dict[int, dict] = {}
    for row in rows:
        entry = by_epoch.setdefault(int(row["epoch"]), {"step": row["step"]})
        split = "held-out" if row["split"] == "test" else "train"
        entry[f"{split} {row['protocol']}"] = float(row["E_h"])
    columns = ["train paper", "held-out paper", "train live", "held-out live"]
    lines = ["| epoch | step | " + " | ".join(f"E_h {c} (cm)" for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for epoch, entry in sorted(by_epoch.items()):
        cells = [f"{entry[c]:.2f}" if c in entry else "-" for c in columns]
        lines.append(f"| {epoch} | {entry['step']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def earlier_pose_sections(revision: str, path: str = RECORD) -> list[str]:
    """The pose-net sections of the record ``path`` at git ``revision``, headings one level down."""
    text = subprocess.run(["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True).stdout
    body = text[text.index(POSE_SECTION) + len(POSE_SECTION):text.index(MODEL_SECTION)].strip()
    return [f"## The pose net it started from (`git show {revision}:{path}`)", "", body.replace("\n## ", "\n### "), ""]


def protocol_sections(results: str) -> str:
    """A ``gsdf-eval`` results.md from its first protocol section (``## paper: ...``) on: without its title."""
    return results[results.index("## "):].strip()


def looks_count(folder: Path) -> str:
    """How many crops an evaluation's live joints were read from (its summary's ``pose_looks``; "?" when an
    older evaluation did not record it)."""
    return str(json.loads((folder / "summary.json").read_text()).get("meta", {}).get("pose_looks", "?"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="gsdf-eval output folder (held-out SDF set)")
    parser.add_argument("--eval-looks", type=Path,
                        help="gsdf-eval --protocol live --pose-looks N output folder (another reading), shown "
                             "beside it")
    parser.add_argument("--eval-pose", type=Path, required=True, help="gsdf-eval-pose output folder (held-out)")
    parser.add_argument("--eval-pose-looks", type=Path,
                        help="gsdf-eval-pose --protocol live --pose-looks N output folder (held-out, another reading), "
                             "shown beside it")
    parser.add_argument("--earlier-record", metavar="REV",
                        help="git revision whose record's pose-net sections to keep (runs no longer here)")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--sdf-config", default="configs/tiny_sdf.yaml", help="the shape net's training config")
    parser.add_argument("--sdf-override", action="append", default=[], metavar="KEY=VALUE",
                        help="an override the shape net's training command passed (repeatable)")
    parser.add_argument("--sdf-before", action="append", default=[], metavar="'CONFIG KEY=VALUE ...'",
                        help="an earlier shape-net training the shipped one started from: its config and overrides, "
                        "in training order (repeatable)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    sdf_run = Path(ckpt.train_config.get("out_dir", "runs/tiny_sdf"))
    pose_runs = [name for name in POSE_RUNS if (args.runs / name / "train_config.yaml").is_file()]
    sdf_cfg = json.dumps(ckpt.train_config, indent=2, sort_keys=True)
    summary = json.loads((args.eval / "summary.json").read_text())
    results = protocol_sections((args.eval / "results.md").read_text())
    if args.eval_looks is not None:
        looks = protocol_sections((args.eval_looks / "results.md").read_text()).split("\n", 1)[1]
        count = looks_count(args.eval_looks)
        results += f"\n\n## live, the joints of {count} crop(s) around the hand (`--pose-looks {count}`)\n" + looks
    pose = json.loads((args.eval_pose / "summary.json").read_text())
    other_looks = looks_count(args.eval_pose_looks) if args.eval_pose_looks is not None else None
    held_out = summary.get("meta", {}).get("samples", "?")
    lines = [
        f"# {args.checkpoint.name}",
        "",
        "The default model of the package: the `tiny` gSDF configuration trained on SynthHO with the",
        "package's own commands (`tools/make_default_model.sh`), on 2 CPU cores, in two stages: the pose",
        "net on pose-only samples (hand-centred crops with jitter), fine-tuned for the wrist's depth, grown",
        "to two residual blocks per stage and fine-tuned again, fine-tuned twice more on images of seeds it",
        "had not seen, then the shape net on samples with SDF files with the pose net frozen (trained on the",
        "pose net before its last fine-tuning, then fine-tuned briefly on the shipped one).",
        "",
        "| field | value |",
        "|---|---|",
        f"| package version | {ckpt.version} (gsdf_ros {gsdf_ros.__version__}) |",
        f"| git commit of the training code | `{ckpt.git_commit}` |",
        f"| pose-net data | `data/synth_pose`: `{POSE_SYNTH}`"
        + "".join(f"; then `data/synth_pose_{seed}`: `{pose_synth_seed(seed)}`" for seed in FINE_TUNING_SEEDS) + " |",
        f"| shape-net data | `data/synth`: `{SDF_SYNTH}` |",
        f"| data fingerprint (shape net's train split) | `{ckpt.data_fingerprint}` |",
        f"| seed | {ckpt.seed} |",
        f"| epochs / steps (shape net) | {ckpt.epoch} / {ckpt.step} |",
        "| training time | " + ", ".join(f"{POSE_RUN_TITLES[name]} {seconds(args.runs, name)}" for name in POSE_RUNS)
        + "".join(f", shape net `{b.split()[0]}` {seconds(args.runs, before_run(b))}" for b in args.sdf_before)
        + f", shape net {seconds(args.runs, sdf_run.name)} |",
        f"| held-out sets (seed 7, never trained on) | pose: `{POSE_HELDOUT}` "
        f"({pose['summary']['paper']['E_h']['n']} scored); whole model: `{SDF_HELDOUT}` ({held_out} scored) |",
        "",
        "Training shared the 2 cores with other jobs, so the times are upper bounds; a run that was",
        "interrupted and resumed from its `last.pt` has no total time recorded. The commit is the",
        "repository's HEAD when the shape net's checkpoint was written.",
        "",
        "## Commands",
        "",
        "```bash",
        POSE_SYNTH,
        *(pose_synth_seed(seed) for seed in FINE_TUNING_SEEDS),
        *(f"gsdf-train --config configs/{name}.yaml" for name in POSE_RUNS),
        SDF_SYNTH,
        *(f"gsdf-train --config {b}" for b in args.sdf_before),
        f"gsdf-train --config {args.sdf_config}" + "".join(f" {o}" for o in args.sdf_override),
        f"gsdf-export {sdf_run}/last.pt {args.checkpoint}",
        "```",
        "",
        POSE_SECTION,
        "",
        f"`gsdf-eval-pose` on `{pose['meta']['data']}` (split `{pose['meta']['split']}`); cm, mean (median).",
        "`paper`: the hand-centred crop and the true wrist depth; `live`: nothing from the ground truth.",
        "",
        pose_table(pose["summary"]),
        "",
        *((f"The joints of {other_looks} crop(s) around the hand (`--pose-looks {other_looks}`; the table "
           f"above: {looks_count(args.eval_pose)}, the inference node's `pose_looks`):", "",
           pose_table(json.loads((args.eval_pose_looks / "summary.json").read_text())["summary"]),
           "") if args.eval_pose_looks is not None else ()),
        *(line for name in pose_runs if (args.runs / f"{name}_curve").is_dir() for line in (
            f"Learning curve of `configs/{name}.yaml` ({POSE_RUN_TITLES[name]}; its epoch checkpoints on 200 "
            "training images and the 400 held-out images):", "",
            curve_table(learning_curve(args.runs / f"{name}_curve")), "")),
        *(earlier_pose_sections(args.earlier_record) if args.earlier_record else []),
        MODEL_SECTION,
        "",
        "`gsdf-eval` (`--mesh c2f --resolution 64`); `live` reads the joints from one crop around the",
        "hand, as the inference node does by default.",
        "",
        results.strip(),
        "",
        "## Training configurations",
        "",
        *(line for name in pose_runs for line in (
            f"Pose net (`runs/{name}/train_config.yaml`):", "", "```yaml",
            (args.runs / name / "train_config.yaml").read_text().strip(), "```", "")),
        "Shape net (stored in the checkpoint):",
        "",
        "```json",
        sdf_cfg,
        "```",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
