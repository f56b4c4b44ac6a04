"""REP-155 (ROS4HRI) identifiers for our tracks: one body id per track, one face id once its face is seen.

REP-155 asks for body and face ids that are unique, valid while the body or face is tracked, and short
("reasonably short", valid identifiers: they start with a letter). Our track ids are small integers that
restart with the node, so they are not used as such: every track gets a random id of ID_LENGTH lowercase
letters the first time it is named, keeps it while it lives, and no id is ever given twice while the node runs
(an id that collides with one issued before is drawn again).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from ..types import FrameResult

ID_LENGTH = 5
"""26**5 (about 11.9 million) possible ids: a long-running node draws again on a collision, never reuses one."""


@dataclass
class NamedFrame:
    """The ids of one frame: who is seen now, and whose id ended (their topics and frames are to be removed)."""

    bodies: dict[int, str] = field(default_factory=dict)
    """Track id -> body id, for every person of the frame, in the frame's order."""
    faces: dict[int, str] = field(default_factory=dict)
    """Track id -> face id, for the people whose face the face cue found in this frame."""
    ended_bodies: list[str] = field(default_factory=list)
    ended_faces: list[str] = field(default_factory=list)


class HumanIds:
    """Body and face ids for the tracks of each frame (ROS-agnostic: the ROS layer names topics and frames)."""

    def __init__(self, rng: random.Random | None = None):
        self._rng = rng or random.SystemRandom()
        self._issued: set[str] = set()
        self._bodies: dict[int, str] = {}
        self._faces: dict[int, str] = {}

    def _draw(self) -> str:
        while True:
            candidate = "".join(self._rng.choice(string.ascii_lowercase) for _ in range(ID_LENGTH))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def forget_tracks(self) -> None:
        """Every track ends (the node deactivates); the ids issued stay issued."""
        self._bodies.clear()
        self._faces.clear()

    def name(self, result: FrameResult) -> NamedFrame:
        """Give every person of ``result`` their ids (``body_id``, ``face_id``, set in place) and say which ended.

        A face id is drawn the first time the face cue places a face box on the track and stays with the track
        (REP-155 allows a face id to come back when the face is known to be the same: here, the same track);
        the face counts as seen in the frames where the face cue has a face box for the person.
        """
        named = NamedFrame()
        for person in result.people:
            body_id = self._bodies.get(person.track_id) or self._draw()
            self._bodies[person.track_id] = person.body_id = body_id
            named.bodies[person.track_id] = body_id
            face = person.cues.get("face")
            if face is not None and getattr(face, "face_box", None) is not None:
                if person.track_id not in self._faces:
                    self._faces[person.track_id] = self._draw()
                named.faces[person.track_id] = self._faces[person.track_id]
            person.face_id = self._faces.get(person.track_id, "")
        for track_id in [t for t in self._bodies if t not in named.bodies]:
            named.ended_bodies.append(self._bodies.pop(track_id))
            if track_id in self._faces:
                named.ended_faces.append(self._faces.pop(track_id))
        return named
