#!/usr/bin/env bash
# Rebuild the shipped checkpoint models/gsdf_tiny_synthho.pt from nothing, with the package's own
# commands, and write its record (models/gsdf_tiny_synthho.md). About an hour or more on 2 CPU cores.
# Run inside the environment: source env.sh && bash tools/make_default_model.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p runs
timed() { local name=$1; shift; local t0; t0=$(date +%s); "$@"; echo $(( $(date +%s) - t0 )) > "runs/$name.seconds"; }

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # waiting OpenMP threads sleep: the cores may be shared
# 1. Pose net on 20,000 pose-only SynthHO samples (seed 101), then fine-tuned for the wrist's depth, and
#    its learning curve (held-out E_h against training-set size: tools/pose_experiment.sh sizes;
#    resumable: run it again after an interruption).
timed tiny_pose bash tools/pose_experiment.sh data train
timed tiny_pose_depth bash tools/pose_experiment.sh depth
#    Grown to two residual blocks per stage, the new blocks starting as identities, and fine-tuned on the
#    first 4,900 training images.
timed tiny_pose_grow bash tools/pose_experiment.sh grow
bash tools/pose_experiment.sh curve grow_curve
#    Fine-tuned on 4,900 pose-only images of a seed it never trained on (102), then again on 4,900 of
#    another (103): the shipped pose net.
timed tiny_pose_fresh bash tools/pose_experiment.sh fresh
bash tools/pose_experiment.sh fresh_curve
timed tiny_pose_fresh2 bash tools/pose_experiment.sh fresh2
bash tools/pose_experiment.sh fresh2_curve
# 2. SynthHO with SDF files for the shape net: 1,300 samples, seed 1 (train 1,180 / val 120), and a
#    held-out test set from seed 7, which no model trains on.
[ -f data/synth/train.json ] || timed synth gsdf-synth --out data/synth --num 1300 --seed 1 --workers 2 --val-frac 0.09 --test-frac 0.0 --quiet
[ -f data/synth_heldout/test.json ] || gsdf-synth --out data/synth_heldout --num 240 --seed 7 --workers 2 --val-frac 0.0 --test-frac 1.0 --quiet
# 3. Shape net with the pose net frozen (configs hold every setting and the seed): trained on the pose net
#    after its first fine-tuning, then fine-tuned briefly on the shipped pose net, whose joints it reads.
SDF_RUN=(pose_checkpoint=runs/tiny_pose_fresh/last.pt out_dir=runs/tiny_sdf_fresh)
timed tiny_sdf_fresh gsdf-train --config configs/tiny_sdf_grow.yaml "${SDF_RUN[@]}"
timed tiny_sdf_fresh2 gsdf-train --config configs/tiny_sdf_fresh2.yaml
# 4. Held-out metrics (never trained on), both protocols: the whole model, then the pose net alone.
timed eval gsdf-eval --checkpoint runs/tiny_sdf_fresh2/last.pt --data data/synth_heldout --split test --protocol both \
  --mesh c2f --resolution 64 --points 30000 --limit "${EVAL_LIMIT:-200}" --out runs/eval_heldout
gsdf-eval --checkpoint runs/tiny_sdf_fresh2/last.pt --data data/synth_heldout --split test --protocol live \
  --pose-looks 1 --mesh c2f --resolution 64 --points 30000 --limit "${EVAL_LIMIT:-200}" --out runs/eval_heldout_looks
gsdf-eval-pose --checkpoint runs/tiny_pose_fresh2/last.pt --data data/synth_pose_heldout --split test --limit 400 \
  --out runs/eval_pose_heldout
gsdf-eval-pose --checkpoint runs/tiny_pose_fresh2/last.pt --data data/synth_pose_heldout --split test --limit 400 \
  --protocol live --pose-looks 1 --out runs/eval_pose_heldout_looks
# 5. Ship it without optimiser state, with its record.
gsdf-export runs/tiny_sdf_fresh2/last.pt models/gsdf_tiny_synthho.pt
python tools/write_model_record.py --checkpoint models/gsdf_tiny_synthho.pt --eval runs/eval_heldout \
  --eval-looks runs/eval_heldout_looks \
  --eval-pose runs/eval_pose_heldout --eval-pose-looks runs/eval_pose_heldout_looks --runs runs --sdf-config configs/tiny_sdf_fresh2.yaml \
  --sdf-before "configs/tiny_sdf_grow.yaml ${SDF_RUN[*]}" \
  --out models/gsdf_tiny_synthho.md
