"""The REP-155 message types the tests build as fixtures (support/fixtures/interfaces) and the hashes of the
real packages they must match."""

UPSTREAM_HASHES = {
    # ros4hri/hri_msgs, branch humble-devel (the ROS 2 releases), 2.0.0, commit 4e7c176 (msg/*.msg)
    "hri_msgs/msg/Expression": "RIHS01_411b88e0604397d44775d8ec6a4bc69398fb0dfbfe864c33a40fa99ee85f1b00",
    "hri_msgs/msg/IdsList": "RIHS01_7e0812d1ac945c98fd3e393568d581ad0ab567f37b24eff633eab778c1bfe62d",
    "hri_msgs/msg/NormalizedPointOfInterest2D":
        "RIHS01_cc1d2f720c82afeb850ff1dbf66f41ecb7caf19f842987f1247e66160cf03953",
    "hri_msgs/msg/NormalizedRegionOfInterest2D":
        "RIHS01_2e50c93f1ca166ee77af9a5424dc951ae4e452b740162a7f83c082d917dcaff5",
    "hri_msgs/msg/Skeleton2D": "RIHS01_1cb61f012db6ca43c48fa0097ccab9a00108ea39323c13f01bb983323c1e3420",
    # ros2/geometry2 (rolling, commit 1b005c65), tf2_msgs/msg/TFMessage.msg; rosbags' Kilted store agrees
    "tf2_msgs/msg/TFMessage": "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087",
}
"""RIHS01 hashes computed with rosbags from the upstream definitions (read from the repositories named)."""
