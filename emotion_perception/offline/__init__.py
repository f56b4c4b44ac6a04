"""Offline work over recordings, outside the ROS node: many recordings at once (:mod:`.fleet`), their aggregate
report (:mod:`.fleet_report`) and the A/B comparison of two runs (:mod:`.compare`).

ROS-agnostic like the rest of the core: bag reading comes in from :mod:`emotion_perception.ros` as a function.
"""
