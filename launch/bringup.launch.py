"""Start the gsdf graph: preprocessing, inference and outputs nodes (and RViz with rviz:=true).

The node list, remappings and parameter overrides come from gsdf_ros.nodes.graph, the same
description gsdf-bringup uses where ros2 launch is not installed.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from gsdf_ros.nodes import graph
from launch import LaunchDescription


def _nodes(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in graph.LAUNCH_ARGUMENTS}
    params_file = str(graph.params_file(values))
    actions = [
        Node(
            package=graph.PACKAGE,
            executable=spec.executable,
            name=spec.name,
            namespace=values["namespace"],
            parameters=[params_file, dict(spec.overrides)],
            remappings=list(spec.remappings),
            respawn=spec.respawn,
            respawn_delay=graph.RESPAWN_DELAY_S,
            output="screen",
        )
        for spec in graph.nodes(values)
    ]
    if graph.parse_bool(values["rviz"]):
        rviz_config = str(graph.package_file(graph.RVIZ_FILE))
        actions.append(
            Node(package="rviz2", executable="rviz2", name="rviz2", arguments=["-d", rviz_config], output="screen")
        )
    return actions


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
        for a in graph.LAUNCH_ARGUMENTS
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
