"""Score live reconstructions against SynthHO ground truth and write the demo's report.

Input: what the graph published (one :class:`~gsdf_ros.result.Reconstruction` per processed
frame, with the name of the source frame it belongs to) and the gSDF-layout folder the demo
camera played. Output: per-frame metrics (E_h, E_o, CD_h, CD_o, F-scores), latency and rate,
pictures (predicted meshes over the input frames next to ground truth; PNGs and an animated
GIF) and ``report.md`` / ``report.json``. Imports no ROS module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import trimesh

from gsdf_ros.colours import HAND_COLOUR, OBJECT_COLOUR
from gsdf_ros.data import layout
from gsdf_ros.metrics import METRICS, evaluate_reconstruction, markdown_table, summarize
from gsdf_ros.overlay import draw_scene
from gsdf_ros.picture_files import save_strips
from gsdf_ros.result import Reconstruction, TriangleMesh


@dataclass
class LiveFrame:
    """One published reconstruction, the source frame it answers, and when it arrived."""

    name: str
    result: Reconstruction
    received_ns: int


@dataclass
class DemoRun:
    """Everything the demo observed: frames sent, results received, wall time."""

    frames_sent: int
    results: list[LiveFrame]
    seconds: float
    checkpoint: str
    source: str
    extra: dict = field(default_factory=dict)


def _trimesh(mesh: TriangleMesh | None) -> trimesh.Trimesh | None:
    return None if mesh is None else trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)


def score_frame(frame: LiveFrame, root: Path, ann: layout.Annotation, n_points: int) -> dict:
    """The paper's metrics for one live result (meshes aligned by the hand ICP, as in the paper)."""
    rec = frame.result
    gt_hand = layout.read_mesh(root, "hand", ann.file_name)
    gt_obj = layout.read_mesh(root, "obj", ann.file_name)
    row = evaluate_reconstruction(
        _trimesh(rec.hand_mesh), _trimesh(rec.object_mesh), gt_hand, gt_obj,
        rec.hand_joints, ann.hand_joints_3d, rec.object_center, ann.obj_center_3d, n_points=n_points,
    )
    row = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items() if k in METRICS}
    row["name"] = frame.name
    row["latency_ms"] = (frame.received_ns - rec.stamp_ns) / 1e6
    row["mesh_age_ms"] = None if rec.mesh_stamp_ns is None else (rec.stamp_ns - rec.mesh_stamp_ns) / 1e6
    return row


def picture(root: Path, ann: layout.Annotation, rec: Reconstruction) -> np.ndarray:
    """Input | prediction | ground truth, side by side (RGB)."""
    image = layout.read_image(root, ann.file_name)
    k = ann.intrinsics
    predicted = ((rec.hand_mesh, HAND_COLOUR), (rec.object_mesh, OBJECT_COLOUR))
    pred = [(m.vertices, m.faces, c) for m, c in predicted if m is not None]
    gt = [(m.vertices, m.faces, c) for m, c in (
        (layout.read_mesh(root, "hand", ann.file_name), HAND_COLOUR),
        (layout.read_mesh(root, "obj", ann.file_name), OBJECT_COLOUR))]
    gt = [(np.asarray(v), np.asarray(f), c) for v, f, c in gt]
    panels = [image, draw_scene(image, k, pred, rec.hand_joints), draw_scene(image, k, gt, ann.hand_joints_3d)]
    return np.concatenate(panels, axis=1)


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = panel.copy()
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_pictures(run: DemoRun, root: Path, annotations: dict[str, layout.Annotation], out: Path) -> list[str]:
    """Input | live prediction | ground truth of evenly spaced results, and a GIF of all; the files written."""
    strips = []
    for frame in run.results:
        strip = picture(root, annotations[frame.name], frame.result)
        width = strip.shape[1] // 3
        titles = ("input", "gsdf (live)", "ground truth")
        strip = np.concatenate([_label(strip[:, i * width:(i + 1) * width], t) for i, t in enumerate(titles)], axis=1)
        strips.append(strip)
    return save_strips(strips, out)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def timing_summary(run: DemoRun) -> dict:
    """End-to-end latency (stamp -> received), per-stage means, output rate, drops."""
    latencies = [(f.received_ns - f.result.stamp_ns) / 1e6 for f in run.results]
    stages: dict[str, list[float]] = {}
    for f in run.results:
        for name, ms in f.result.stage_ms.items():
            stages.setdefault(name, []).append(ms)
    received = sorted(f.received_ns for f in run.results)
    span_s = (received[-1] - received[0]) / 1e9 if len(received) > 1 else math.nan
    return {
        "frames_sent": run.frames_sent,
        "results": len(run.results),
        "dropped": max(run.frames_sent - len(run.results), 0),
        "latency_ms_median": _percentile(latencies, 50),
        "latency_ms_p90": _percentile(latencies, 90),
        "output_rate_hz": (len(received) - 1) / span_s if len(received) > 1 and span_s > 0 else math.nan,
        "stage_ms_mean": {k: float(np.mean(v)) for k, v in stages.items()},
        "wall_s": run.seconds,
    }


def write_report(run: DemoRun, root: Path, split: str, out: Path, n_points: int = 10000,
                 finding: dict | None = None) -> dict:
    """Score, draw and write ``report.md``/``report.json`` under ``out``; returns the summary. ``finding``:
    the hand-finding part's report (:func:`gsdf_ros.demo_finding.write_finding_report`), when it ran."""
    out.mkdir(parents=True, exist_ok=True)
    annotations = {a.file_name: a for a in layout.read_annotations(root, split).values()}
    unknown = [f.name for f in run.results if f.name not in annotations]
    if unknown:
        raise ValueError(f"results for frames that {root} ({split}) does not have: {unknown[:3]}")
    with_hand = [f for f in run.results if f.result.hand_present]  # "no hand" answers carry nothing to score
    rows = [score_frame(f, root, annotations[f.name], n_points) for f in with_hand]
    summary = summarize(rows) if rows else {}
    timing = timing_summary(run)
    timing["no_hand"] = len(run.results) - len(with_hand)
    pictures = write_pictures(replace(run, results=with_hand), root, annotations, out)
    report = {"metrics": summary, "timing": timing, "per_frame": rows, "pictures": pictures,
              "checkpoint": run.checkpoint, "source": run.source, **run.extra}
    if finding is not None:
        report["finding"] = finding
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    (out / "report.md").write_text(report_markdown(report))
    return report


def report_markdown(report: dict) -> str:
    """The human-readable report."""
    t = report["timing"]
    stages = ", ".join(f"{k} {v:.0f}" for k, v in t["stage_ms_mean"].items())
    lines = [
        "# gsdf demo report",
        "",
        f"Checkpoint `{report['checkpoint']}`, source `{report['source']}`.",
        f"{t['frames_sent']} frames sent, {t['results']} results received "
        f"({t['dropped']} dropped while the model was busy; {t.get('no_hand', 0)} answered \"no hand\"), "
        f"in {t['wall_s']:.1f} s.",
        "",
        "Metrics on the frames the graph answered (live protocol: nothing from the ground truth is used; "
        "meshes aligned to the ground-truth hand by scale + translation ICP as in the paper; CD in cm², E in cm):",
        "",
        markdown_table(report["metrics"]) if report["metrics"] else "(no frame with a hand to score)",
        "",
        f"End-to-end latency (image stamp → reconstruction received): median {t['latency_ms_median']:.0f} ms, "
        f"p90 {t['latency_ms_p90']:.0f} ms; output rate {t['output_rate_hz']:.2f} Hz.",
        f"Mean per-stage latency (ms): {stages}.",
        "",
        *[f"![{p}]({p})" for p in report["pictures"]],
        "",
    ]
    if "finding" in report:
        from gsdf_ros.demo_finding import finding_markdown

        lines.append(finding_markdown(report["finding"]["summary"], report["finding"]["pictures"]))
    return "\n".join(lines)


def summary_line(report: dict) -> str:
    """One line for the end of the demo."""
    m, t = report["metrics"], report["timing"]

    def mean(key: str) -> float:
        return m.get(key, {}).get("mean", math.nan)

    hands = t["results"] - t.get("no_hand", 0)
    line = (f"gsdf-demo: {hands}/{t['frames_sent']} frames reconstructed, E_h {mean('E_h'):.2f} cm, "
            f"E_o {mean('E_o'):.2f} cm, CD_h {mean('CD_h'):.3f} cm², CD_o {mean('CD_o'):.2f} cm², "
            f"latency {t['latency_ms_median']:.0f} ms (median), {t['output_rate_hz']:.2f} Hz")
    if "finding" in report:
        f = report["finding"]["summary"]
        line += (f"; whole frames: hand covered on {f['clip_frames_covered']}/{f['clip_frames']} clip frames "
                 f"(live E_h {f['clip_E_h_mean']:.2f} cm), a hand reported on "
                 f"{f['hand_free_frames_hand_reported']}/{f['hand_free_frames']} frames without one")
    return line
