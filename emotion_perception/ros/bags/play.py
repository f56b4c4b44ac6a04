"""Replaying a bag onto DDS (``bag play``): its messages published as they are, with their original timing."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from ..conversions import ns_to_stamp
from .store import IMAGE_TYPES, message_class, open_bag

ACK_TIMEOUT_S = 5.0
"""How long bag play waits for subscribers to acknowledge the last messages before closing its publishers."""


def play_bag(node: Any, bag: Path, rate: float = 1.0, clock: bool = False, topics: list[str] | None = None,
             wait_for_subscribers_s: float = 0.0, remap: dict[str, str] | None = None) -> int:
    """Publish a bag's messages from ``node`` with their original timing (scaled by ``rate``; 0 = at once).

    With ``clock``, /clock carries the bag time (for nodes with use_sim_time). With
    ``wait_for_subscribers_s``, waits up to that long until every image topic has a subscriber; when one still
    has none, nothing is played and a RuntimeError names it (whoever asked to wait wants the images received:
    playing to nobody would only look like a run). Returns the number of messages published. The node must be spun elsewhere if it also subscribes.
    """
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"the playback rate must be a finite number >= 0 (0: as fast as possible), not {rate:g}")
    remap = remap or {}
    published = 0
    with open_bag(bag) as reader:
        absent = sorted(set(topics or ()) - {c.topic for c in reader.connections})
        if absent:
            raise ValueError(f"{bag} has no topic {', '.join(absent)}; it has "
                             f"{', '.join(sorted({c.topic for c in reader.connections}))}")
        wanted = [c for c in reader.connections if not topics or c.topic in topics]
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        publishers = {c.topic: node.create_publisher(message_class(c.msgtype), remap.get(c.topic, c.topic), qos)
                      for c in wanted}
        clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        image_publishers = [publishers[c.topic] for c in wanted if c.msgtype in IMAGE_TYPES]
        try:
            deadline = time.monotonic() + wait_for_subscribers_s
            while time.monotonic() < deadline and not all(p.get_subscription_count() > 0 for p in image_publishers):
                time.sleep(0.05)
            unheard = [p.topic_name for p in image_publishers if p.get_subscription_count() == 0]
            if wait_for_subscribers_s > 0 and unheard:
                raise RuntimeError(f"no subscriber on {', '.join(unheard)} after waiting {wait_for_subscribers_s:g} s: "
                                   "nothing was played (is the node running, with its image topic remapped there?)")
            start_wall, start_bag = time.monotonic(), None
            for connection, timestamp, raw in reader.messages(connections=wanted):
                start_bag = timestamp if start_bag is None else start_bag
                if rate > 0:
                    delay = start_wall + (timestamp - start_bag) / 1e9 / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                if clock_pub is not None:
                    clock_pub.publish(Clock(clock=ns_to_stamp(timestamp)))
                publishers[connection.topic].publish(raw)  # rclpy publishes serialised bytes as they are
                published += 1
        finally:
            for publisher in [*publishers.values(), clock_pub]:
                if publisher is not None:
                    publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))  # reliable: deliver the tail
                    node.destroy_publisher(publisher)
    return published
