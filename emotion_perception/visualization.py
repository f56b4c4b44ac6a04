"""Drawing the pipeline's results onto an image: the node's ~/debug_image and the demo's contact sheet."""

from __future__ import annotations

import cv2
import numpy as np

from .labels import GAIT_EDGES
from .types import FrameResult

_PALETTE = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                     (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128)], dtype=np.uint8)


def track_colour(track_id: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in _PALETTE[track_id % len(_PALETTE)])


def draw_people(image: np.ndarray, result: FrameResult, top_categories: int = 3) -> np.ndarray:
    """A copy of the RGB ``image`` with each person's box, track id, skeleton and emotion labels."""
    canvas = np.ascontiguousarray(image).copy()
    scale = max(0.35, min(canvas.shape[:2]) / 900.0)
    for person in result.people:
        colour = track_colour(person.track_id)
        x0, y0, x1, y1 = (int(round(v)) for v in person.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, 2)
        skeleton = person.skeleton
        if skeleton is not None:
            points = np.round(skeleton.joints_2d).astype(int)
            for a, b in GAIT_EDGES:
                if skeleton.confidence[a] > 0 and skeleton.confidence[b] > 0:
                    cv2.line(canvas, tuple(points[a]), tuple(points[b]), colour, 2)
        lines = [f"#{person.track_id}"]
        if person.gait.valid:
            lines.append(f"gait {person.gait.label} {float(np.max(person.gait.probabilities)):.2f}")
        if person.context.valid:
            lines.append("ctx " + ",".join(person.context.active_categories[:top_categories]))
        if person.fused.valid:
            lines.append(f"=> {person.fused.emotion} {person.fused.confidence:.2f}")
        for row, text in enumerate(lines):
            y = y0 + int((row + 1) * 30 * scale)
            cv2.putText(canvas, text, (x0, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(canvas, text, (x0, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return canvas
