"""Drawing the pipeline's results onto an image: the node's ~/debug_image, the demo's sheet and recorded videos.

Each person gets their box and skeleton in the track's colour and a label block: the stable fused label
(in the label's colour) and one line per running cue (its summary, e.g. "gait: collecting: 20/45 frames").
Blocks are kept inside the image and moved apart so neighbours never overlap; a legend names the colours.
"""

from __future__ import annotations

import cv2
import numpy as np

from .labels import EMOTIONS, GAIT_EDGES
from .types import FrameResult, PersonEmotion

_PALETTE = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                     (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128)], dtype=np.uint8)

LABEL_COLOURS: dict[str, tuple[int, int, int]] = {
    "happy": (255, 200, 0), "sad": (40, 120, 255), "angry": (235, 30, 30), "neutral": (190, 190, 190)}
"""RGB of each fused label (also the RViz marker colours); anything else is grey."""
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_colour(track_id: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in _PALETTE[track_id % len(_PALETTE)])


def label_colour(label: str) -> tuple[int, int, int]:
    return LABEL_COLOURS.get(label, (110, 110, 110))


def _finite_box(box: np.ndarray) -> tuple[int, int, int, int] | None:
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        return None
    return tuple(int(round(v)) for v in np.clip(box, -1e5, 1e5))


def _label_lines(person: PersonEmotion) -> list[tuple[str, tuple[int, int, int]]]:
    fused = person.fused
    head = f"#{person.track_id} " + (f"{fused.emotion} {fused.confidence:.2f}" if fused.valid else "?")
    lines = [(head, label_colour(fused.emotion) if fused.valid else (255, 255, 255))]
    lines += [(f"{name}: {result.summary()}", (255, 255, 255)) for name, result in person.cues.items()]
    return lines


def _place(block: tuple[int, int], anchor: tuple[int, int], taken: list[tuple[int, int, int, int]],
           size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner for a (w, h) block near ``anchor``, inside the image and clear of the ``taken`` blocks."""
    width, height = block
    x = int(np.clip(anchor[0], 0, max(size[0] - width, 0)))
    y = int(np.clip(anchor[1] - height, 0, max(size[1] - height, 0)))
    for _ in range(len(taken) + 1):
        clash = next((t for t in taken if x < t[2] and t[0] < x + width and y < t[3] and t[1] < y + height), None)
        if clash is None:
            break
        y = clash[3] + 1 if clash[3] + 1 + height <= size[1] else max(clash[1] - height - 1, 0)
    return x, y


def draw_people(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the RGB ``image`` with each person's box, track id, skeleton and emotion labels, and a legend."""
    canvas = np.ascontiguousarray(image).copy()
    height, width = canvas.shape[:2]
    scale = max(0.3, min(height, width) / 1000.0)
    line_height = int(22 * scale / 0.5)
    taken: list[tuple[int, int, int, int]] = []
    for person in result.people:
        colour = track_colour(person.track_id)
        box = _finite_box(person.box)
        if box is not None:
            cv2.rectangle(canvas, box[:2], box[2:], colour, 2)
        skeleton = person.skeleton
        if skeleton is not None:
            points = np.asarray(skeleton.joints_2d, dtype=np.float64)
            for a, b in GAIT_EDGES:
                if skeleton.confidence[a] > 0 and skeleton.confidence[b] > 0 and np.isfinite(points[[a, b]]).all():
                    cv2.line(canvas, tuple(int(v) for v in points[a]), tuple(int(v) for v in points[b]), colour, 2)
        lines = _label_lines(person)
        block_width = max(cv2.getTextSize(text, _FONT, scale, 1)[0][0] for text, _ in lines) + 6
        block = (block_width, line_height * len(lines) + 4)
        x, y = _place(block, (box[0], box[1]) if box is not None else (0, 0), taken, (width, height))
        taken.append((x, y, x + block[0], y + block[1]))
        overlay = canvas[y:y + block[1], x:x + block[0]]
        overlay[:] = (overlay * 0.4).astype(np.uint8)
        for row, (text, text_colour) in enumerate(lines):
            cv2.putText(canvas, text, (x + 3, y + (row + 1) * line_height - 3), _FONT, scale, text_colour, 1, cv2.LINE_AA)
    _draw_legend(canvas, scale, line_height)
    return canvas


def _draw_legend(canvas: np.ndarray, scale: float, line_height: int) -> None:
    height = canvas.shape[0]
    x = 4
    y = height - line_height // 2 - 4
    for label in EMOTIONS:
        cv2.rectangle(canvas, (x, y - line_height // 2), (x + line_height // 2, y), label_colour(label), -1)
        x += line_height // 2 + 3
        cv2.putText(canvas, label, (x, y), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
        x += cv2.getTextSize(label, _FONT, scale, 1)[0][0] + 8
