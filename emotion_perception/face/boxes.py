"""Where each person's face is: from their head keypoints, or by matching detected faces to people.

The face box is a square, the size and place MTCNN's box takes once made square (which is what the
expression crops are cut from), so both sources feed the network the same kind of crop:

- from the COCO head keypoints (nose, eyes, ears): the side from the spread of the eyes
  (:data:`EYE_SPAN_TO_SIDE` times their distance) or of the ears (:data:`EAR_SPAN_TO_SIDE`), the larger
  when both are known; centred between the eyes (or ears) and :data:`EYE_LINE_TO_CENTRE` of a side
  below them. It needs both eyes, or both ears and the nose (a head seen from behind has ears but no face);
- from a detector: each face goes to at most one person whose box holds the face's centre, nearest that
  person's head (confident head keypoints, else the top of the box), one to one (Hungarian).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..labels import COCO_KEYPOINTS

HEAD_KEYPOINTS: tuple[str, ...] = COCO_KEYPOINTS[:5]
"""The (5, 3) head keypoints a person may come with: nose, left eye, right eye, left ear, right ear."""
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = range(5)

EYE_SPAN_TO_SIDE = 2.6
"""Face box side / distance between the eye centres (MTCNN's squared box on frontal faces)."""
EAR_SPAN_TO_SIDE = 1.3
"""Face box side / distance between the ears."""
EYE_LINE_TO_CENTRE = 0.12
"""How far the box centre lies below the eye (or ear) line, in box sides."""
HEAD_ANCHOR_DEPTH = 0.1
"""Without head keypoints a person's head is looked for this far down their box, in box heights."""


def head_points(keypoints: np.ndarray | None) -> np.ndarray | None:
    """The (5, 3) head rows of (5, 3) head keypoints or of all (17, 3) COCO keypoints; None if neither."""
    if keypoints is None:
        return None
    points = np.asarray(keypoints, dtype=np.float64)
    if points.shape not in ((5, 3), (len(COCO_KEYPOINTS), 3)):
        return None
    return points[:5]


def face_box_from_keypoints(head_keypoints: np.ndarray | None, min_confidence: float) -> tuple[np.ndarray, float] | None:
    """Square face box (4,) and the mean confidence of the keypoints it rests on; None if too few are confident."""
    points = head_points(head_keypoints)
    if points is None or not np.all(np.isfinite(points)):
        return None
    sure = points[:, 2] >= min_confidence
    spans, used = [], []
    if sure[LEFT_EYE] and sure[RIGHT_EYE]:
        spans.append(EYE_SPAN_TO_SIDE * np.linalg.norm(points[LEFT_EYE, :2] - points[RIGHT_EYE, :2]))
        used += [LEFT_EYE, RIGHT_EYE]
    if sure[LEFT_EAR] and sure[RIGHT_EAR] and sure[NOSE]:
        spans.append(EAR_SPAN_TO_SIDE * np.linalg.norm(points[LEFT_EAR, :2] - points[RIGHT_EAR, :2]))
        used += [LEFT_EAR, RIGHT_EAR, NOSE]
    if not spans or max(spans) <= 0:
        return None
    side = max(spans)
    line = points[used[:2], :2].mean(axis=0)  # the eyes' midpoint when known, else the ears'
    centre = line + np.array([0.0, EYE_LINE_TO_CENTRE * side])
    box = np.concatenate([centre - side / 2, centre + side / 2]).astype(np.float32)
    return box, float(points[used, 2].mean())


def head_anchor(person_box: np.ndarray, head_keypoints: np.ndarray | None, min_confidence: float) -> np.ndarray:
    """Where the person's face should be: their confident head keypoints' mean, else near the top of their box."""
    points = head_points(head_keypoints)
    if points is not None:
        sure = (points[:, 2] >= min_confidence) & np.all(np.isfinite(points), axis=1)
        if sure.any():
            return points[sure, :2].mean(axis=0)
    x0, y0, x1, y1 = np.asarray(person_box, dtype=np.float64)
    return np.array([(x0 + x1) / 2, y0 + HEAD_ANCHOR_DEPTH * (y1 - y0)])


def assign_faces(face_boxes: np.ndarray, person_boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """For each face, the index of the person it belongs to, or -1; one face per person at most.

    A face may go to a person whose box holds its centre; among those, pairs are chosen to minimise the
    total distance from face centres to head anchors, measured in person-box heights.
    """
    owner = np.full(len(face_boxes), -1, dtype=np.int64)
    if len(face_boxes) == 0 or len(person_boxes) == 0:
        return owner
    faces = np.asarray(face_boxes, dtype=np.float64)
    people = np.asarray(person_boxes, dtype=np.float64)
    centres = (faces[:, :2] + faces[:, 2:]) / 2
    inside = ((centres[:, None, 0] >= people[None, :, 0]) & (centres[:, None, 0] <= people[None, :, 2]) &
              (centres[:, None, 1] >= people[None, :, 1]) & (centres[:, None, 1] <= people[None, :, 3]))
    heights = np.maximum(people[:, 3] - people[:, 1], 1.0)
    cost = np.linalg.norm(centres[:, None, :] - np.asarray(anchors, dtype=np.float64)[None], axis=2) / heights[None]
    impossible = 1e6
    rows, cols = linear_sum_assignment(np.where(inside, cost, impossible))
    for face, person in zip(rows, cols):
        if inside[face, person]:
            owner[face] = person
    return owner


def square_around(box: np.ndarray) -> np.ndarray:
    """The square with the box's centre and its longer side."""
    box = np.asarray(box, dtype=np.float64)
    centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]).max() / 2
    return np.concatenate([centre - half, centre + half])


def grey_face_crop(image: np.ndarray, box: np.ndarray, margin: float, size: int) -> np.ndarray | None:
    """(size, size) uint8 grey crop of the square around ``box`` grown by ``margin`` of its side on every side.

    Parts outside the image repeat its border. None if the square does not touch the image.
    """
    square = square_around(box)
    grow = margin * (square[2] - square[0])
    x0, y0, x1, y1 = (int(round(v)) for v in square + np.array([-grow, -grow, grow, grow]))
    height, width = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    crop = cv2.cvtColor(np.ascontiguousarray(image[cy0:cy1, cx0:cx1]), cv2.COLOR_RGB2GRAY)
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        crop = cv2.copyMakeBorder(crop, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
    shrinking = crop.shape[0] > size
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
