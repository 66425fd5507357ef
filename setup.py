"""pip install -e . installs the ROS-free gsdf_ros core; colcon builds the ROS package (CMakeLists.txt)."""

from setuptools import setup

setup()
