"""Launch the emotion_perception managed node against a camera; it configures and activates itself.

    ros2 launch emotion_perception emotion_perception.launch.py image_topic:=/camera/color/image_raw \
        camera_info_topic:=/camera/color/camera_info use_depth:=true depth_topic:=/camera/aligned_depth_to_color/image_raw \
        device:=cuda

With autostart:=false the node waits unconfigured for a lifecycle manager (or `ros2 lifecycle set`).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = (
    ("image_topic", "/camera/color/image_raw", "sensor_msgs/Image topic (its /compressed sibling with image_transport:=compressed)"),
    ("camera_info_topic", "/camera/color/camera_info", "sensor_msgs/CameraInfo of the image"),
    ("depth_topic", "/camera/aligned_depth_to_color/image_raw", "depth image aligned to the colour image"),
    ("skeletons_topic", "/body_tracker/skeletons", "emotion_perception/TrackedSkeletonArray (pose_source:=skeletons)"),
    ("use_depth", "false", "pair images with the aligned depth image for 3D joints and positions"),
    ("image_transport", "raw", "'raw' (Image) or 'compressed' (CompressedImage)"),
    ("pose_source", "detector", "'detector' or 'skeletons'"),
    ("device", "cpu", "torch device for every network: cpu, cuda, cuda:N"),
    ("precision", "fp32", "fp32 (strict, default), tf32 or fp16 on CUDA"),
    ("detector_model", "movenet_multipose", "person detector backend: movenet_multipose, keypointrcnn or onnx "
     "(docs/front_end.md)"),
    ("detector_weights", "DEFAULT", "'DEFAULT' (the backend's fetched weights), a weights file (onnx: yours), or ''"),
    ("gait_weights", "step_stgcn_epoch395", "released gait weights name, our checkpoint NAME.pt, or '' (off)"),
    ("context_weights", "", "EMOTIC checkpoint NAME.pt (with NAME.json), or '' (off)"),
    ("face_weights", "fer_mini_xception", "face expression weights name or file, or '' (off)"),
    ("namespace", "", "namespace of the node and its topics"),
    ("use_sim_time", "false", "use /clock (rosbag replay with --clock)"),
    ("autostart", "true", "configure and activate at start (false: wait for a lifecycle manager)"),
    ("config", PathJoinSubstitution([FindPackageShare("emotion_perception"), "config", "emotion_perception.yaml"]),
     "ROS params file with every setting"),
)


def generate_launch_description() -> LaunchDescription:
    arg = LaunchConfiguration
    node = LifecycleNode(
        package="emotion_perception",
        executable="emotion_perception_node",
        name="emotion_perception",
        namespace=arg("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            arg("config"),
            {
                "input.use_depth": arg("use_depth"),
                "input.image_transport": arg("image_transport"),
                "pipeline.pose_source": arg("pose_source"),
                "pipeline.device": arg("device"),
                "pipeline.precision": arg("precision"),
                "detector.model": ParameterValue(arg("detector_model"), value_type=str),
                "detector.weights": ParameterValue(arg("detector_weights"), value_type=str),
                "gait.weights": ParameterValue(arg("gait_weights"), value_type=str),
                "context.weights": ParameterValue(arg("context_weights"), value_type=str),
                "face.expression_weights": ParameterValue(arg("face_weights"), value_type=str),
                "use_sim_time": arg("use_sim_time"),
                "autostart": arg("autostart"),
            },
        ],
        remappings=[
            ("image", arg("image_topic")),
            ("image/compressed", [arg("image_topic"), "/compressed"]),
            ("camera_info", arg("camera_info_topic")),
            ("depth", arg("depth_topic")),
            ("skeletons", arg("skeletons_topic")),
        ],
    )
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
        + [node]
    )
