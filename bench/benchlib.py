"""Helpers shared by the bench scripts: devices, peak memory, distributions, JSON and tables."""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    from gsdf_ros.result import CropSample

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path[:1]:
    sys.path.insert(0, str(REPO))  # measure this source tree, not an installed copy of gsdf_ros


def set_threads(threads: int) -> None:
    """Torch CPU threads (0 keeps torch's default). One thread gives steadier timings on a shared machine."""
    if threads > 0:
        torch.set_num_threads(threads)


def devices(requested: Sequence[str]) -> list[torch.device]:
    """The requested devices that exist here ("cuda" is skipped without CUDA)."""
    return [torch.device(d) for d in requested if not d.startswith("cuda") or torch.cuda.is_available()]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} torch threads"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float]:
    """(result, seconds) of one call, CUDA synchronised before and after."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return result, time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM from /proc), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def cuda_peak_mb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def distribution(values_ms: Iterable[float]) -> dict[str, float]:
    """Median, p90, mean, min and count of per-message (or per-call) values in ms."""
    v = np.asarray(list(values_ms), dtype=np.float64)
    if v.size == 0:
        return {"n": 0}
    return {
        "median": float(np.median(v)),
        "p90": float(np.percentile(v, 90)),
        "mean": float(v.mean()),
        "min": float(v.min()),
        "n": int(v.size),
    }


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.machine(),
    }


def emit(report: dict[str, Any], header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One JSON object on stdout, then a markdown table of the headline figures."""
    print(json.dumps(report, indent=1, default=str))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(_cell(v) for v in row) + " |")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def toy_crop(size: int, stamp_ns: int = 0, seed: int = 0) -> CropSample:
    """A square crop with a skin-coloured hand-sized blob and a blue disc on a grey background."""
    from gsdf_ros.result import CropSample

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.full((size, size, 3), 110.0) + rng.normal(0.0, 6.0, (size, size, 3))
    hand = ((xx - 0.45) / 0.22) ** 2 + ((yy - 0.55) / 0.3) ** 2 < 1.0
    disc = (xx - 0.62) ** 2 + (yy - 0.4) ** 2 < 0.15**2
    image[hand] = (225, 175, 150)
    image[disc] = (60, 110, 210)
    f = 1.2 * size
    k = np.array([[f, 0.0, size / 2], [0.0, f, size / 2], [0.0, 0.0, 1.0]])
    return CropSample(stamp_ns=stamp_ns, frame_id="bench_camera_optical_frame",
                      image=image.clip(0, 255).astype(np.uint8), k=k, rotation=np.eye(3), box=(0.0, 0.0, float(size)))
