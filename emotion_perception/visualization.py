"""Drawing the pipeline's results onto an image: the node's ~/debug_image, the demo's sheet and recorded videos.

Colour means one thing: the fused label (labels.LABEL_COLOURS, the same table as the RViz markers and the
report's plots). Each person's box and skeleton are drawn in their stable label's colour, and their identity is
the track id, written at the box's corner and at the head of their label block: the stable fused label and one
line per running cue (its summary, e.g. "gait: collecting: 20/45 frames"). Every box and skeleton is drawn
first and every label block last, so no one's lines cross another's text; blocks are placed greedily, inside
the image, clear of each other and of the legend, as near their person as there is room for.
"""

from __future__ import annotations

import cv2
import numpy as np

from .labels import EMOTIONS, GAIT_EDGES, UNKNOWN, label_colour
from .types import FrameResult, PersonEmotion

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CUE_TEXT = (255, 255, 255)
BLOCK_SHADE = 0.4
"""A label block darkens the image under it to this share of its brightness (the text stays readable)."""
COORDINATE_LIMIT = 1e5
"""Pixel coordinates are clipped to +-this before drawing: OpenCV takes 32-bit integers, inputs can be anything."""

Rect = tuple[int, int, int, int]
"""x_min, y_min, x_max, y_max [px], max exclusive."""


def _pixels(points: np.ndarray) -> np.ndarray:
    """Finite pixel coordinates as integers OpenCV can take (clipped to +-COORDINATE_LIMIT)."""
    return np.round(np.clip(points, -COORDINATE_LIMIT, COORDINATE_LIMIT)).astype(np.int64)


def _box(person: PersonEmotion) -> Rect | None:
    """The person's box in pixels; None when it is not finite or has no area (no place in the image)."""
    box = np.asarray(person.box, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        return None
    return tuple(int(v) for v in _pixels(box))


def _colour(person: PersonEmotion) -> tuple[int, int, int]:
    return label_colour(person.fused.emotion if person.fused.valid else UNKNOWN)


def _label_lines(person: PersonEmotion) -> list[tuple[str, tuple[int, int, int]]]:
    fused = person.fused
    head = f"#{person.track_id} " + (f"{fused.emotion} {fused.confidence:.2f}" if fused.valid else "?")
    cues = [(f"{name}: {result.summary()}", _CUE_TEXT) for name, result in person.cues.items()]
    return [(head, _colour(person))] + cues


def _fitted(text: str, width: int, scale: float) -> str:
    """``text``, cut short with ".." where it is wider than ``width`` pixels (a long status in a small image)."""
    if cv2.getTextSize(text, _FONT, scale, 1)[0][0] <= width:
        return text
    while len(text) > 1 and cv2.getTextSize(text + "..", _FONT, scale, 1)[0][0] > width:
        text = text[:-1]
    return text + ".."


def _place(size: tuple[int, int], anchor: Rect, taken: list[Rect], image: tuple[int, int]) -> Rect | None:
    """Where a (w, h) block goes: above the anchor box, else below it, else inside its top, else the free spot
    nearest to it (candidate corners beside every block already placed); None when the image has no room."""
    width, height = size
    right, bottom = image[0] - width, image[1] - height
    if right < 0 or bottom < 0:
        return None
    x0, y0, _, y1 = anchor
    for x, y in ((x0, y0 - height), (x0, y1), (x0, y0)):
        x, y = min(max(x, 0), right), min(max(y, 0), bottom)
        rect = (x, y, x + width, y + height)
        if not any(t[0] < rect[2] and rect[0] < t[2] and t[1] < rect[3] and rect[1] < t[3] for t in taken):
            return rect
    placed = np.array(taken, dtype=np.int64).reshape(-1, 4)
    xs = np.unique(np.concatenate([[x0, 0, right], placed[:, 2], placed[:, 0] - width]))
    ys = np.unique(np.concatenate([[y0 - height, y1, y0, 0, bottom], placed[:, 3], placed[:, 1] - height]))
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    corners = grid[np.argsort((grid[:, 0] - x0) ** 2 + (grid[:, 1] - y0 + height) ** 2, kind="stable")]
    corners = np.clip(corners, 0, [right, bottom])
    rects = np.concatenate([corners, corners + [width, height]], axis=1)
    clash = ((rects[:, None, 0] < placed[None, :, 2]) & (placed[None, :, 0] < rects[:, None, 2])
             & (rects[:, None, 1] < placed[None, :, 3]) & (placed[None, :, 1] < rects[:, None, 3])).any(axis=1)
    free = np.flatnonzero(~clash)
    return tuple(int(v) for v in rects[free[0]]) if len(free) else None


def draw_people(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the RGB ``image`` with each person's box, track id, skeleton and emotion labels, and a legend."""
    canvas = np.ascontiguousarray(image).copy()
    height, width = canvas.shape[:2]
    scale = max(0.3, min(height, width) / 1000.0)
    line_height = int(22 * scale / 0.5)
    boxes = [_box(person) for person in result.people]
    for person, box in zip(result.people, boxes):
        _draw_body(canvas, person, box, scale)
    taken = [_draw_legend(canvas, scale, line_height)]
    blocks = []
    for person, box in zip(result.people, boxes):
        lines = [(_fitted(text, width - 6, scale), colour) for text, colour in _label_lines(person)]
        anchor = box or (0, 0, 0, 0)
        for shown in (lines, lines[:1]):  # no room for the whole block: the head line alone
            size = (max(cv2.getTextSize(text, _FONT, scale, 1)[0][0] for text, _ in shown) + 6,
                    line_height * len(shown) + 4)
            rect = _place(size, anchor, taken, (width, height))
            if rect is not None:
                taken.append(rect)
                blocks.append((rect, shown))
                if box is not None and not (rect[0] <= box[0] < rect[2] and rect[1] <= box[1] <= rect[3]):
                    cv2.line(canvas, rect[:2], box[:2], _colour(person), 1, cv2.LINE_AA)  # a block away from its box
                break
    for rect, shown in blocks:
        _draw_block(canvas, rect, shown, scale, line_height)
    return canvas


def _draw_body(canvas: np.ndarray, person: PersonEmotion, box: Rect | None, scale: float) -> None:
    """The box (with the track id at its corner) and the skeleton, in the person's label colour."""
    colour = _colour(person)
    skeleton = person.skeleton
    if skeleton is not None:
        points = np.asarray(skeleton.joints_2d, dtype=np.float64)
        seen = (np.asarray(skeleton.confidence) > 0) & np.isfinite(points).all(axis=1)
        pixels = _pixels(np.where(seen[:, None], points, 0.0)).tolist()
        for a, b in GAIT_EDGES:
            if seen[a] and seen[b]:
                cv2.line(canvas, pixels[a], pixels[b], colour, 1, cv2.LINE_AA)
    if box is not None:
        cv2.rectangle(canvas, box[:2], box[2:], colour, 2)
        cv2.putText(canvas, str(person.track_id), (box[0] + 3, box[3] - 4), _FONT, scale, colour, 1, cv2.LINE_AA)


def _draw_block(canvas: np.ndarray, rect: Rect, lines: list[tuple[str, tuple[int, int, int]]], scale: float,
                line_height: int) -> None:
    x0, y0, x1, y1 = rect
    overlay = canvas[y0:y1, x0:x1]
    overlay[:] = (overlay * BLOCK_SHADE).astype(np.uint8)
    for row, (text, colour) in enumerate(lines):
        cv2.putText(canvas, text, (x0 + 3, y0 + (row + 1) * line_height - 3), _FONT, scale, colour, 1, cv2.LINE_AA)


def _draw_legend(canvas: np.ndarray, scale: float, line_height: int) -> Rect:
    """The label colours along the bottom-left corner, on a shaded strip; returns the strip."""
    height = canvas.shape[0]
    entries = [*EMOTIONS, UNKNOWN]
    swatch = line_height // 2
    width = sum(swatch + 3 + cv2.getTextSize(label, _FONT, scale, 1)[0][0] + 8 for label in entries) + 4
    rect = (0, max(height - line_height - 4, 0), min(width, canvas.shape[1]), height)
    overlay = canvas[rect[1]:rect[3], rect[0]:rect[2]]
    overlay[:] = (overlay * BLOCK_SHADE).astype(np.uint8)
    x, y = 4, height - line_height // 2 - 4
    for label in entries:
        cv2.rectangle(canvas, (x, y - swatch), (x + swatch, y), label_colour(label), -1)
        x += swatch + 3
        cv2.putText(canvas, label, (x, y), _FONT, scale, _CUE_TEXT, 1, cv2.LINE_AA)
        x += cv2.getTextSize(label, _FONT, scale, 1)[0][0] + 8
    return rect
