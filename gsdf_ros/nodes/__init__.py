"""ROS 2 layer: nodes, message conversion, launcher. The only part of gsdf_ros that imports ROS."""
