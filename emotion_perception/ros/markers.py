"""RViz markers: per person with a 3D position, a sphere in the stable label's colour (labels.LABEL_COLOURS, as in the
debug image and the plots) and a text above it.

Markers of a track are deleted in the first frame it is no longer there (and expire after LIFETIME_S in
any case, should the node stop), so RViz never shows people who left.
"""

from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..labels import UNKNOWN, label_colour
from ..types import FrameResult

LIFETIME_S = 1.0
SPHERE_DIAMETER_M = 0.3
TEXT_HEIGHT_M = 0.15
TEXT_LIFT_M = 0.5
"""How far above the body point the text floats [m] (the optical frame's y points down)."""
NAMESPACES = ("people", "labels")


class MarkerWriter:
    """Turns each frame's people into a MarkerArray, deleting the markers of tracks that ended."""

    def __init__(self) -> None:
        self._shown: set[int] = set()

    def markers(self, result: FrameResult, header: Header) -> MarkerArray:
        lifetime = Duration(sec=int(LIFETIME_S), nanosec=int((LIFETIME_S % 1) * 1e9))
        markers = []
        shown = set()
        for person in result.people:
            if not person.position.valid:
                continue
            shown.add(person.track_id)
            x, y, z = (float(v) for v in person.position.point)
            stable = person.fused.emotion if person.fused.valid else UNKNOWN
            red, green, blue = (c / 255.0 for c in label_colour(stable))
            colour = ColorRGBA(r=red, g=green, b=blue, a=0.8)
            sphere = Marker(header=header, ns="people", id=int(person.track_id), type=Marker.SPHERE, action=Marker.ADD,
                            pose=Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(w=1.0)),
                            scale=Vector3(x=SPHERE_DIAMETER_M, y=SPHERE_DIAMETER_M, z=SPHERE_DIAMETER_M),
                            color=colour, lifetime=lifetime)
            label = f"#{person.track_id} " + (f"{person.fused.emotion} {person.fused.confidence:.2f}"
                                              if person.fused.valid else "?")
            text = Marker(header=header, ns="labels", id=int(person.track_id), type=Marker.TEXT_VIEW_FACING,
                          action=Marker.ADD, pose=Pose(position=Point(x=x, y=y - TEXT_LIFT_M, z=z),
                                                       orientation=Quaternion(w=1.0)),
                          scale=Vector3(z=TEXT_HEIGHT_M), color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0), text=label,
                          lifetime=lifetime)
            markers += [sphere, text]
        for track_id in sorted(self._shown - shown):
            markers += [Marker(header=header, ns=ns, id=int(track_id), action=Marker.DELETE) for ns in NAMESPACES]
        self._shown = shown
        return MarkerArray(markers=markers)

    def clear(self, header: Header) -> MarkerArray:
        """Delete every marker shown (the node deactivates, or time jumped)."""
        self._shown = set()
        return MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])
