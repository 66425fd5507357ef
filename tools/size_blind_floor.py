"""How well could a monocular net place a SynthHO hand in depth at best? Prints the live E_h and wrist
error of the true skeleton placed where the mean hand would appear the same size
(:func:`gsdf_ros.pose_eval.size_blind_joints`): the error owed to hand size alone, which no image
shows. SynthHO annotations carry each hand's rest joints (``hand_template``).

    python tools/size_blind_floor.py data/synth_pose_heldout/test.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from gsdf_ros.hand.skeleton import default_template
from gsdf_ros.pose_eval import bone_lengths, score_joints, size_blind_joints


def floor_rows(annotations: list[dict]) -> list[dict[str, float]]:
    """Per sample: E_h and wrist error (cm) of the size-blind skeleton, and the hand's size over the mean's."""
    mean = np.asarray(default_template().joints)
    rows = []
    for ann in annotations:
        gt, template = np.asarray(ann["hand_joints_3d"]), np.asarray(ann["hand_template"])
        scores = score_joints(size_blind_joints(gt, template, mean), gt)
        rows.append({"E_h": scores["E_h"], "wrist_error": scores["wrist_error"],
                     "size_ratio": float(bone_lengths(template).sum() / bone_lengths(mean).sum())})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("annotations",
                   help="a SynthHO split's JSON (gsdf-synth output, e.g. data/synth_pose_heldout/test.json)")
    args = p.parse_args(argv)
    try:
        with open(args.annotations) as f:
            annotations = json.load(f)["annotations"]
        if not annotations:
            raise ValueError(f"{args.annotations} holds no annotations")
        rows = floor_rows(annotations)
    except (OSError, KeyError, ValueError) as error:
        print(f"size_blind_floor: {error}", file=sys.stderr)
        return 2
    table = {name: (float(np.mean([r[name] for r in rows])), float(np.median([r[name] for r in rows])))
             for name in ("E_h", "wrist_error")}
    ratio = np.array([r["size_ratio"] for r in rows])
    print(f"n={len(rows)}; hand size over the mean hand's: std {ratio.std():.4f}, "
          f"range {ratio.min():.3f}-{ratio.max():.3f}")
    for name, (mean, median) in table.items():
        print(f"size-blind {name}: mean {mean:.2f} cm, median {median:.2f} cm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
