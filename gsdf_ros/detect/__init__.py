"""The hand detector: finds the hand in a whole camera frame (box and hand score), and the tracker
that turns detections and the model's own joints into stable hand crops."""

from gsdf_ros.detect.model import Detection, DetectorConfig, HandDetector, decode_detection

__all__ = ["Detection", "DetectorConfig", "HandDetector", "decode_detection"]
