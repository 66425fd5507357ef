"""Cameras, the virtual-camera crop, rigid transforms and points sampled around shapes (no hands, networks or ROS)."""

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.virtual_camera import VirtualCrop, square_box_around, virtual_crop, warp_crop

__all__ = ["Intrinsics", "VirtualCrop", "square_box_around", "virtual_crop", "warp_crop"]
