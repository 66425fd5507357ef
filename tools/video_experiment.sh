#!/usr/bin/env bash
# Single-frame vs video gSDF on SynthHO clips with motion blur and occluders (Part B §2), end to end:
#   1. generate approach-and-grasp clips (gsdf-synth --clip-len --blur --occluders)
#   2. train the tiny pose net, then the single-frame tiny gSDF (T = 1)
#   3. train the tiny video model for T = 3 and T = 5, each initialised from the single-frame one
#      (every tensor but the transformer's; the transformer starts from scratch)
#   4. compare T = 1, 3, 5 (TS) on the same held-out clips: CD_h, CD_o, E_h, E_o, CPU latency per window
#   5. per-frame win counts of each video model against T = 1 (python -m gsdf_ros.eval_compare)
#
# Budgets are environment variables; the defaults are a smoke run of minutes on 2 CPU cores, not a
# result. Example of a longer run:
#   NUM_CLIPS=600 POSE_EPOCHS=30 SDF_EPOCHS=60 VIDEO_EPOCHS=30 tools/video_experiment.sh runs/video_exp
#
# With POSE_CKPT and SDF_CKPT (a pose net and a single-frame gSDF trained elsewhere, e.g. the default
# model's runs/tiny_pose and runs/tiny_sdf) step 2 is skipped and all three models are fine-tuned from
# SDF_CKPT on the clips with one budget (VIDEO_EPOCHS, VIDEO_LR, FT_POINTS): T = 1 on single frames,
# T = 3 and 5 on clips, so each T sees the same data for as long as the others.
set -euo pipefail

OUT=${1:-runs/video_experiment}
NUM_CLIPS=${NUM_CLIPS:-24}          # clips of CLIP_LEN frames (split by VAL_FRAC and TEST_FRAC)
CLIP_LEN=${CLIP_LEN:-5}             # frames per generated clip: at least the longest window (5)
SIZE=${SIZE:-128}                   # image size (px) of the generated frames
SEED=${SEED:-0}
POSE_EPOCHS=${POSE_EPOCHS:-2}
SDF_EPOCHS=${SDF_EPOCHS:-2}
VIDEO_EPOCHS=${VIDEO_EPOCHS:-2}
BATCH=${BATCH:-4}                   # frames per batch (single frame)
VIDEO_BATCH=${VIDEO_BATCH:-$BATCH}  # clips per batch (video)
WORKERS=${WORKERS:-0}
POSE_CKPT=${POSE_CKPT:-}
SDF_CKPT=${SDF_CKPT:-}
TS=${TS:-"3 5"}                     # window lengths of the video models compared with T = 1
VIDEO_LR=${VIDEO_LR:-1.0e-4}        # fine-tuning mode only
FT_POINTS=${FT_POINTS:-1000}        # SDF points per frame, fine-tuning mode only
TRAIN_EXTRA=${TRAIN_EXTRA:-}        # extra key=value overrides of every gsdf-train call, e.g. the frozen pose net's
                                    # config: "model_overrides.pose.backbone.layers=[2,2,2,2]"
EVAL_RESOLUTION=${EVAL_RESOLUTION:-64}
EVAL_POINTS=${EVAL_POINTS:-30000}
DEVICE=${DEVICE:-auto}
DATA=${DATA:-$OUT/data}             # generated here unless it already holds clips/test.json
VAL_FRAC=${VAL_FRAC:-0.1}
TEST_FRAC=${TEST_FRAC:-0.1}
read -r -a EXTRA <<< "$TRAIN_EXTRA"
COMMON=(workers="$WORKERS" device="$DEVICE" seed="$SEED" progress=false "${EXTRA[@]}")

run() { echo "+ $*" >&2; "$@"; }

# 1. data: SynthHO clips; train/val/test are split by clip, so test clips are never seen in training
if [ ! -f "$DATA/clips/test.json" ]; then
  run gsdf-synth --out "$DATA" --num "$NUM_CLIPS" --clip-len "$CLIP_LEN" --size "$SIZE" --seed "$SEED" \
    --val-frac "$VAL_FRAC" --test-frac "$TEST_FRAC" --blur --occluders --quiet
fi

if [ -n "$SDF_CKPT" ]; then
  [ -n "$POSE_CKPT" ] || { echo "SDF_CKPT needs POSE_CKPT (the pose net it was trained with)" >&2; exit 2; }
  POSE="$POSE_CKPT"
  INIT="$SDF_CKPT"
  FINETUNE=(lr="$VIDEO_LR" num_points="$FT_POINTS" sdf_add_epoch=0 milestones=[] epochs="$VIDEO_EPOCHS")
  # 2'. T = 1: the single-frame gSDF fine-tuned on every training frame of the clips
  run gsdf-train --config configs/tiny_sdf.yaml --data "$DATA" --out "$OUT/sdf" \
    pose_checkpoint="$POSE" init_checkpoint="$INIT" batch_size="$BATCH" "${FINETUNE[@]}" "${COMMON[@]}"
else
  POSE="$OUT/pose/last.pt"
  INIT="$OUT/sdf/last.pt"
  FINETUNE=(epochs="$VIDEO_EPOCHS" milestones=[])
  # 2. pose net, then the single-frame gSDF on every training frame
  run gsdf-train --config configs/tiny_pose.yaml --data "$DATA" --out "$OUT/pose" \
    epochs="$POSE_EPOCHS" batch_size="$BATCH" milestones=[] "${COMMON[@]}"
  run gsdf-train --config configs/tiny_sdf.yaml --data "$DATA" --out "$OUT/sdf" \
    pose_checkpoint="$POSE" epochs="$SDF_EPOCHS" batch_size="$BATCH" milestones=[] "${COMMON[@]}"
fi

# 3. video models: T frames drawn from one training clip, one augmentation per clip, losses averaged over T
for T in $TS; do
  run gsdf-train --config configs/tiny_video_sdf.yaml --data "$DATA" --out "$OUT/video_t$T" \
    pose_checkpoint="$POSE" init_checkpoint="$INIT" \
    model_overrides.temporal.num_frames="$T" batch_size="$VIDEO_BATCH" "${FINETUNE[@]}" "${COMMON[@]}"
done

# 4. the comparison on the held-out clips (non-overlapping clips of T frames, every frame scored once)
RUNS=(--run 1="$OUT/sdf/last.pt")
for T in $TS; do RUNS+=(--run "$T=$OUT/video_t$T/last.pt"); done
run python bench/video_compare.py --data "$DATA" --split test "${RUNS[@]}" \
  --resolution "$EVAL_RESOLUTION" --points "$EVAL_POINTS" --out "$OUT/compare"
# 5. per-frame win counts of each video model against T = 1 (the same frames)
for T in $TS; do
  run python -m gsdf_ros.eval_compare "$OUT/compare/T$T" "$OUT/compare/T1" --names "T=$T" "T=1" \
    --json "$OUT/compare/wins_T${T}_vs_T1.json"
done
