"""gsdf_ros: hand-object reconstruction with geometry-driven SDFs (gSDF) for ROS 2.

Everything outside :mod:`gsdf_ros.nodes` is ROS-free and runs with ``pip install -e .``.
"""

__version__ = "0.1.0"
