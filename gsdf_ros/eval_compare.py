"""Compare two evaluations of the same samples: mean metrics side by side and per-sample win counts.

Reads the ``per_sample.jsonl`` files ``gsdf-eval`` writes and matches rows by (sample id, protocol).
A win on a metric is a sample where that run's value is better: lower for errors (CD, E), higher for
F-scores (``FS_*``); ties and samples where either value is missing are counted apart.

    python -m gsdf_ros.eval_compare runs/eval_heldout runs/eval_nokin --names gSDF no-kinematic
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

COMPARED: tuple[str, ...] = ("CD_h", "FS_h@5", "CD_o", "FS_o@10", "E_h", "E_o")
"""Metrics compared by default."""


def higher_is_better(metric: str) -> bool:
    """F-scores are better higher; every other metric here is an error."""
    return metric.startswith("FS_")


def read_rows(path: Path | str) -> dict[tuple[str, str], dict]:
    """Rows of an evaluation folder's (or file's) ``per_sample.jsonl``, keyed by (id, protocol)."""
    path = Path(path)
    if path.is_dir():
        path = path / "per_sample.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no per-sample results at {path}")
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(str(row["id"]), str(row.get("protocol", "")))] = row
    return rows


def _value(row: dict, metric: str) -> float:
    value = row.get(metric)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(float(value)) else math.nan


def compare_rows(a: dict[tuple[str, str], dict], b: dict[tuple[str, str], dict],
                 metrics: Sequence[str] = COMPARED) -> dict[str, dict[str, dict]]:
    """Per protocol and metric, over the samples both runs scored: the means of a and b, the relative
    change of a's mean against b's (negative: a's is lower), a's wins, b's wins (see
    :func:`higher_is_better`), ties and samples left out."""
    out: dict[str, dict[str, dict]] = {}
    shared = sorted(set(a) & set(b))
    for protocol in sorted({key[1] for key in shared}):
        keys = [key for key in shared if key[1] == protocol]
        out[protocol] = {}
        for metric in metrics:
            pairs = np.array([(_value(a[k], metric), _value(b[k], metric)) for k in keys], dtype=np.float64)
            ok = np.isfinite(pairs).all(axis=1) if len(pairs) else np.zeros(0, bool)
            va, vb = pairs[ok, 0], pairs[ok, 1]
            better_a, better_b = (va > vb, vb > va) if higher_is_better(metric) else (va < vb, vb < va)
            mean_a = float(va.mean()) if len(va) else math.nan
            mean_b = float(vb.mean()) if len(vb) else math.nan
            out[protocol][metric] = {
                "n": int(ok.sum()), "mean_a": mean_a, "mean_b": mean_b,
                "change": (mean_a - mean_b) / mean_b if mean_b > 0 else math.nan,
                "wins_a": int(better_a.sum()), "wins_b": int(better_b.sum()), "ties": int((va == vb).sum()),
                "left_out": int(len(keys) - ok.sum()),
            }
    return out


def comparison_markdown(result: dict[str, dict[str, dict]], name_a: str, name_b: str) -> str:
    """One table per protocol: mean of each run, the change of ``name_a`` against ``name_b``, win counts."""
    lines = []
    for protocol, metrics in result.items():
        lines += [f"Protocol `{protocol}`", "",
                  f"| metric | {name_a} | {name_b} | change | {name_a} wins | {name_b} wins | ties | n |",
                  "|---|---|---|---|---|---|---|---|"]
        for metric, r in metrics.items():
            lines.append(f"| {metric} | {r['mean_a']:.4g} | {r['mean_b']:.4g} | {100 * r['change']:+.1f}% "
                         f"| {r['wins_a']} | {r['wins_b']} | {r['ties']} | {r['n']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gsdf_ros.eval_compare", description=__doc__.splitlines()[0])
    parser.add_argument("a", help="evaluation folder (or per_sample.jsonl) of the first run")
    parser.add_argument("b", help="evaluation folder (or per_sample.jsonl) of the second run")
    parser.add_argument("--names", nargs=2, default=("a", "b"), metavar=("A", "B"))
    parser.add_argument("--metrics", nargs="+", default=list(COMPARED))
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    args = parser.parse_args(argv)
    try:
        result = compare_rows(read_rows(args.a), read_rows(args.b), args.metrics)
    except (OSError, ValueError, KeyError) as error:
        print(f"eval_compare: {error}", file=sys.stderr)
        return 2
    if not result:
        print("eval_compare: the two runs share no scored sample", file=sys.stderr)
        return 2
    print(comparison_markdown(result, *args.names))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"names": list(args.names), "a": args.a, "b": args.b, "result": result},
                                        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
