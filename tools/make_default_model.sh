#!/usr/bin/env bash
# Rebuild the shipped checkpoint models/gsdf_tiny_synthho.pt from nothing, with the package's own
# commands, and write its record (models/gsdf_tiny_synthho.md). About an hour or more on 2 CPU cores.
# Run inside the environment: source env.sh && bash tools/make_default_model.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p runs
timed() { local name=$1; shift; local t0; t0=$(date +%s); "$@"; echo $(( $(date +%s) - t0 )) > "runs/$name.seconds"; }

# 1. SynthHO: 1,300 samples, seed 1 (train 1,180 / val 120 by the generator's seeded split).
[ -f data/synth/train.json ] || timed synth gsdf-synth --out data/synth --num 1300 --seed 1 --workers 2 --val-frac 0.09 --test-frac 0.0 --quiet
# 2. Pose net, then 3. shape net with the pose net frozen (configs hold every setting and the seed).
timed tiny_pose gsdf-train --config configs/tiny_pose.yaml
timed tiny_sdf gsdf-train --config configs/tiny_sdf.yaml
# 4. Held-out metrics on the val split (never trained on), both protocols.
timed eval gsdf-eval --checkpoint runs/tiny_sdf/last.pt --data data/synth --split val --protocol both \
  --mesh c2f --resolution 64 --points 30000 --limit "${EVAL_LIMIT:-30}" --out runs/eval_val
# 5. Ship it without optimiser state, with its record.
gsdf-export runs/tiny_sdf/last.pt models/gsdf_tiny_synthho.pt
python tools/write_model_record.py --checkpoint models/gsdf_tiny_synthho.pt --eval runs/eval_val \
  --runs runs --out models/gsdf_tiny_synthho.md
