"""The gSDF on-disk layout (read and write), torch datasets over it, and training augmentation."""

from gsdf_ros.data.augment import AugmentConfig, AugmentParams
from gsdf_ros.data.dataset import ClipDataset, FrameDataset, data_fingerprint
from gsdf_ros.data.layout import (
    Annotation,
    LayoutError,
    LayoutWriter,
    SampleRecord,
    SdfSamples,
    read_annotations,
    read_record,
    write_split,
)

__all__ = [
    "Annotation",
    "AugmentConfig",
    "AugmentParams",
    "ClipDataset",
    "FrameDataset",
    "LayoutError",
    "LayoutWriter",
    "SampleRecord",
    "SdfSamples",
    "data_fingerprint",
    "read_annotations",
    "read_record",
    "write_split",
]
