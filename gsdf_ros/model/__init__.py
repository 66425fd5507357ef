"""gSDF networks (torch, ROS-free): configs, backbones, heads, kinematic features, decoders, losses."""

from gsdf_ros.model.config import GSDFConfig, get_config, list_configs, register_config
from gsdf_ros.model.gsdf import GSDFNet, PoseNet, SDFState, build_model, count_parameters, register_model

__all__ = [
    "GSDFConfig",
    "GSDFNet",
    "PoseNet",
    "SDFState",
    "build_model",
    "count_parameters",
    "get_config",
    "list_configs",
    "register_config",
    "register_model",
]
