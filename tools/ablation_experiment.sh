#!/usr/bin/env bash
# gSDF with and without kinematic features on SynthHO (the paper's ablation, Part B §3), end to end:
#   1. generate NUM SynthHO samples (VAL_FRAC of them held out as `val`)
#   2. train the tiny pose net, then two shape nets on the frozen pose net: gSDF (configs/tiny_sdf.yaml)
#      and the same network without kinematic features (configs/tiny_sdf_nokin.yaml)
#   3. evaluate both on the same `val` samples under the paper and live protocols
#   4. print both results tables and the per-sample win counts (python -m gsdf_ros.eval_compare)
#
# Budgets are environment variables; the defaults are the scale the comparison should be run at
# (about 2,070 training and 230 held-out samples). On a 2-core CPU that is most of a day, mostly
# evaluation: give it a GPU (DEVICE=cuda) and cores (SYNTH_WORKERS, EVAL_WORKERS). A smoke run:
#   NUM=30 BATCH=4 POSE_EPOCHS=1 SDF_EPOCHS=1 EVAL_LIMIT=1 EVAL_POINTS=2000 tools/ablation_experiment.sh /tmp/abl
set -euo pipefail

OUT=${1:-runs/ablation}
NUM=${NUM:-2300}
VAL_FRAC=${VAL_FRAC:-0.1}
SEED=${SEED:-1}
POSE_EPOCHS=${POSE_EPOCHS:-28}
SDF_EPOCHS=${SDF_EPOCHS:-14}
BATCH=${BATCH:-16}
SYNTH_WORKERS=${SYNTH_WORKERS:-2}
EVAL_WORKERS=${EVAL_WORKERS:-1}
EVAL_LIMIT=${EVAL_LIMIT:-}          # evaluate the first N val samples only (default: all)
EVAL_RESOLUTION=${EVAL_RESOLUTION:-64}
EVAL_POINTS=${EVAL_POINTS:-30000}
DEVICE=${DEVICE:-auto}
DATA=${DATA:-$OUT/data}             # generated here unless it already holds train.json
POSE_CKPT=${POSE_CKPT:-}            # a trained pose net (pose- or sdf-stage checkpoint): skips step 2's pose training
SDF_EXTRA=${SDF_EXTRA:-}            # extra key=value overrides of both shape nets, e.g. "milestones=[4,5] sdf_add_epoch=4"
COMMON=(batch_size="$BATCH" device="$DEVICE" seed=0 progress=false)

run() { echo "+ $*" >&2; "$@"; }

if [ ! -f "$DATA/train.json" ]; then
  run gsdf-synth --out "$DATA" --num "$NUM" --seed "$SEED" --workers "$SYNTH_WORKERS" \
    --val-frac "$VAL_FRAC" --test-frac 0 --quiet
fi

if [ -n "$POSE_CKPT" ]; then
  POSE="$POSE_CKPT"
else
  POSE="$OUT/pose/last.pt"
  run gsdf-train --config configs/tiny_pose.yaml --data "$DATA" --out "$OUT/pose" epochs="$POSE_EPOCHS" "${COMMON[@]}"
fi
read -r -a EXTRA <<< "$SDF_EXTRA"
for variant in sdf sdf_nokin; do
  run gsdf-train --config "configs/tiny_$variant.yaml" --data "$DATA" --out "$OUT/$variant" \
    pose_checkpoint="$POSE" epochs="$SDF_EPOCHS" "${COMMON[@]}" "${EXTRA[@]}"
done

LIMIT=()
[ -z "$EVAL_LIMIT" ] || LIMIT=(--limit "$EVAL_LIMIT")
EVAL_DEVICE=$([ "$DEVICE" = auto ] && echo cpu || echo "$DEVICE")
for variant in sdf sdf_nokin; do
  run gsdf-eval --checkpoint "$OUT/$variant/last.pt" --data "$DATA" --split val --protocol both --mesh c2f \
    --resolution "$EVAL_RESOLUTION" --points "$EVAL_POINTS" --workers "$EVAL_WORKERS" --device "$EVAL_DEVICE" \
    "${LIMIT[@]}" --out "$OUT/eval_$variant" --no-progress
done

for variant in sdf sdf_nokin; do
  echo "## $variant"
  cat "$OUT/eval_$variant/results.md"
done
# per-sample win counts of gSDF against the no-kinematic-features net, both protocols
run python -m gsdf_ros.eval_compare "$OUT/eval_sdf" "$OUT/eval_sdf_nokin" --names gSDF no-kinematic \
  --json "$OUT/wins_gsdf_vs_nokin.json"
