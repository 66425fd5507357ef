#!/usr/bin/env bash
# The pose-net experiment of the default model, with the package's own commands (2 CPU cores: hours).
#   1. pose-only SynthHO training data (seed 101) and a held-out set from a seed no model trains on (7)
#   2. the default pose net (configs/tiny_pose.yaml; resumes from runs/tiny_pose/last.pt when present)
#   depth: its fine-tuning for the wrist's depth (configs/tiny_pose_depth.yaml), the shipped pose net
#   3. its learning curve: every epoch checkpoint on 200 training and 400 held-out images, both protocols
#      (and the depth fine-tuning's, when it has run)
#   grow: the shipped pose net, grown from the depth fine-tuning's last epoch to two residual blocks per
#      stage and fine-tuned (configs/tiny_pose_grow.yaml) on the first 4,900 training images (the training
#      scenes' first 1,250); grow_curve scores its epochs as curve does
#   root: the shipped pose net's root-depth head retrained with the rest frozen (configs/tiny_pose_root.yaml)
#      on 4,900 pose-only images from a seed the pose net never trained on (102); root_curve scores its
#      epochs on 200 of them and the 400 held-out images
#   fresh: the shipped pose net fine-tuned as a whole on those 4,900 images (configs/tiny_pose_fresh.yaml);
#      fresh_curve scores its epochs as root_curve does
#   fresh2: that net fine-tuned again, with the same schedule, on 4,900 images of another new seed (103)
#      (configs/tiny_pose_fresh2.yaml), the shipped pose net; fresh2_curve scores its epochs as root_curve does
#   fresh3: the shipped pose net fine-tuned once more, on 5,000 images of a fourth seed (104) with distractors
#      behind the hand and low-resolution crops (configs/tiny_pose_fresh3.yaml), for the hand detector's looks;
#      fresh3_curve scores its epochs as root_curve does
#   deep, deep_depth: the deeper pose net trained from scratch (configs/tiny_pose_deep.yaml) and its depth
#      fine-tuning (configs/tiny_pose_deep_depth.yaml), an experiment; deep_curve scores their epochs as curve does
#   4. held-out E_h against training-set size: the same schedule in steps on the first N training images
#      (N from SIZES, default "1250 5000"; two sizes can train side by side: SIZES=1250 ... & SIZES=5000 ...;
#      SIZE_STEPS, default 4000: about that many steps, e.g. an epoch of the default run to compare with its curve)
# Run inside the environment: source env.sh && bash tools/pose_experiment.sh [STEP ...] (default: all)
set -euo pipefail
# training shares the cores with other work: waiting OpenMP threads sleep instead of spinning
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p runs logs
steps=${*:-data train depth curve grow grow_curve sizes}
WORKERS=${WORKERS:-2}
HELD_OUT=data/synth_pose_heldout

# train_run NAME [KEY=VALUE ...]: configs/NAME.yaml into runs/NAME, continuing from runs/NAME/last.pt when present
train_run() {
  local name=$1 resume=()
  shift
  [ -f "runs/$name/last.pt" ] && resume=(--resume "runs/$name/last.pt")
  gsdf-train --config "configs/$name.yaml" "$@" "${resume[@]}"
}
# first_train N: write data/synth_pose/splits/train_N.json, the first N images of the training split
first_train() {
  python - "$1" <<'PY'
import json, sys
from pathlib import Path
n = int(sys.argv[1])
ids = json.loads(Path("data/synth_pose/splits/train.json").read_text())
if len(ids) < n:
    sys.exit(f"data/synth_pose has {len(ids)} training images, fewer than {n}")
Path(f"data/synth_pose/splits/train_{n}.json").write_text(json.dumps(ids[:n]))
PY
}
# seed_data SEED [GSDF-SYNTH OPTION ...]: 4,900 pose-only training images of a seed the pose net had not trained
# on -> data/synth_pose_SEED (102 for root and fresh, 103 for fresh2, 104 with distractors for fresh3)
seed_data() {
  local seed=$1
  shift
  [ -f "data/synth_pose_$seed/train.json" ] || gsdf-synth --out "data/synth_pose_$seed" --num 1250 --views 4 \
    --pose-only --seed "$seed" --val-frac 0.02 --test-frac 0.0 --image-format jpg --workers "$WORKERS" --quiet "$@"
}
# curve NAME: every epoch checkpoint of runs/NAME on 200 training and 400 held-out images -> runs/NAME_curve
curve() {
  gsdf-eval-pose --checkpoint "runs/$1"/epoch_*.pt --data "${TRAIN_DATA:-data/synth_pose}" --split train --limit 200 \
    --out "runs/$1_curve/train"
  gsdf-eval-pose --checkpoint "runs/$1"/epoch_*.pt --data "$HELD_OUT" --split test --limit 400 \
    --out "runs/$1_curve/heldout"
}

for step in $steps; do
  case $step in
    data)
      [ -f data/synth_pose/train.json ] || gsdf-synth --out data/synth_pose --num 5000 --views 4 --pose-only \
        --seed 101 --val-frac 0.02 --test-frac 0.0 --image-format jpg --workers "$WORKERS" --quiet
      [ -f "$HELD_OUT/test.json" ] || gsdf-synth --out "$HELD_OUT" --num 400 --pose-only --seed 7 \
        --val-frac 0.0 --test-frac 1.0 --image-format jpg --workers "$WORKERS" --quiet ;;
    train) train_run tiny_pose ;;
    depth) train_run tiny_pose_depth ;;
    curve)
      curve tiny_pose
      if [ -f runs/tiny_pose_depth/last.pt ]; then curve tiny_pose_depth; fi ;;
    grow)
      first_train 4900
      train_run tiny_pose_grow subset=train_4900 ;;
    grow_curve) curve tiny_pose_grow ;;
    root)
      seed_data 102
      train_run tiny_pose_root ;;
    root_curve) TRAIN_DATA=data/synth_pose_102 curve tiny_pose_root ;;
    fresh)
      seed_data 102
      train_run tiny_pose_fresh ;;
    fresh_curve) TRAIN_DATA=data/synth_pose_102 curve tiny_pose_fresh ;;
    fresh2)
      seed_data 103
      train_run tiny_pose_fresh2 ;;
    fresh2_curve) TRAIN_DATA=data/synth_pose_103 curve tiny_pose_fresh2 ;;
    fresh3)
      seed_data 104 --distractors 0 3
      train_run tiny_pose_fresh3 ;;
    fresh3_curve) TRAIN_DATA=data/synth_pose_104 curve tiny_pose_fresh3 ;;
    deep) train_run tiny_pose_deep ;;
    deep_depth) train_run tiny_pose_deep_depth ;;
    deep_curve)
      curve tiny_pose_deep
      if [ -f runs/tiny_pose_deep_depth/last.pt ]; then curve tiny_pose_deep_depth; fi ;;
    sizes)
      for n in ${SIZES:-1250 5000}; do
        first_train "$n"
        steps_per_epoch=$(( n / 32 ))
        epochs=$(( ${SIZE_STEPS:-4000} / steps_per_epoch ))
        gsdf-train --config configs/tiny_pose.yaml subset="train_$n" epochs="$epochs" \
          "milestones=[$(( epochs * 11 / 16 )),$(( epochs * 14 / 16 ))]" ckpt_every=1000 out_dir="runs/tiny_pose_n$n"
        gsdf-eval-pose --checkpoint "runs/tiny_pose_n$n/last.pt" --data "$HELD_OUT" --split test --limit 400 \
          --out "runs/tiny_pose_n$n/heldout"
        gsdf-eval-pose --checkpoint "runs/tiny_pose_n$n/last.pt" --data data/synth_pose --split train --limit 200 \
          --out "runs/tiny_pose_n$n/train"
      done ;;
    *) echo "unknown step $step (data, train, depth, curve, grow, grow_curve, root, root_curve, fresh, fresh_curve, fresh2, fresh2_curve, fresh3, fresh3_curve, deep, deep_depth, deep_curve, sizes)" >&2; exit 2 ;;
  esac
done
