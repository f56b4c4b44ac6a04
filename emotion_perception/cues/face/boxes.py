"""Where each person's face is: from their head keypoints, or by matching detected faces to people.

The face box is a square, the size and place MTCNN's box takes once made square (which is what the
expression crops are cut from), so both sources feed the network the same kind of crop:

- from the COCO head keypoints (nose, eyes, ears): the side from the spread of the eyes
  (:data:`EYE_SPAN_TO_SIDE` times their distance) or of the ears (:data:`EAR_SPAN_TO_SIDE`), the larger
  when both are known; centred between the eyes (or ears) and :data:`EYE_LINE_TO_CENTRE` of a side
  below them. It needs both eyes, or both ears and the nose (a head seen from behind has ears but no face);
- from a detector: each face goes to at most one person whose box holds the face's centre, nearest that
  person's head (confident head keypoints, else the top of the box), one to one (Hungarian).

The grey crop the expression network sees is cut by :func:`grey_face_crop` (OpenCV, one face at a time: the
reference) or by :func:`grey_face_crops` (every face of a frame in one sampling pass on the frame's device).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from ...labels import COCO_KEYPOINTS

NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = range(5)
"""Rows of the head keypoints a person may come with: COCO's first five."""

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


OPENCV_GREY_WEIGHTS = (9798, 19235, 3735)
"""OpenCV's RGB2GRAY for uint8 images in 15-bit fixed point (0.299, 0.587, 0.114 times 2**15):
grey = (9798 R + 19235 G + 3735 B + 2**14) >> 15, bit-equal to ``cv2.cvtColor`` (OpenCV 4)."""


def face_crop_square(box: np.ndarray, margin: float) -> np.ndarray:
    """The integer pixel square (x0, y0, x1, y1), end exclusive, that a face's crop is cut from: the square
    around ``box`` grown by ``margin`` of its side on every side, rounded to whole pixels. It may reach
    beyond the image."""
    square = square_around(box)
    grow = margin * (square[2] - square[0])
    return np.rint(square + np.array([-grow, -grow, grow, grow])).astype(np.int64)


def square_touches_image(square: np.ndarray, width: int, height: int) -> bool:
    """Whether an integer square from :func:`face_crop_square` shares at least one pixel with the image."""
    x0, y0, x1, y1 = (int(v) for v in square)
    return max(x0, 0) < min(x1, width) and max(y0, 0) < min(y1, height)


def grey_face_crop(image: np.ndarray, box: np.ndarray, margin: float, size: int) -> np.ndarray | None:
    """(size, size) uint8 grey crop of the square around ``box`` grown by ``margin`` of its side on every side.

    Parts outside the image repeat its border. None if the square does not touch the image.
    """
    height, width = image.shape[:2]
    square = face_crop_square(box, margin)
    if not square_touches_image(square, width, height):
        return None
    x0, y0, x1, y1 = (int(v) for v in square)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    crop = cv2.cvtColor(np.ascontiguousarray(image[cy0:cy1, cx0:cx1]), cv2.COLOR_RGB2GRAY)
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        crop = cv2.copyMakeBorder(crop, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
    shrinking = crop.shape[0] > size
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def grey_face_crops(image: torch.Tensor, squares: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`grey_face_crop` for K faces at once, on ``image``'s device: (K, size, size) uint8.

    ``image`` (H, W, 3) uint8 RGB tensor; ``squares`` (K, 4) integer squares from :func:`face_crop_square`
    that touch the image, on the same device. Equal to the OpenCV path where it shrinks a face (area resize)
    and within one grey level where it enlarges one (OpenCV's bilinear rounds its weights to 11 bits).

    Each output pixel is the mean of the grey crop over a rectangle: the pixel's footprint when the crop
    shrinks (what INTER_AREA computes), a one-pixel square centred on the sample point when it grows (the
    mean of the piecewise-constant image over that square *is* bilinear interpolation between pixel
    centres: INTER_LINEAR, with its sample points kept inside the crop). Rectangle means are differences of
    the integral image at the four corners, and the integral image is exactly bilinear between its grid
    points, so one ``grid_sample`` over the integral image of the part of the frame the squares cover gives
    every face's crop in one pass, whatever its scale. (context/preprocessing.py's ``box_sampling_grid``
    samples the image itself: that is INTER_LINEAR only, and up to 98 levels off a shrunk face's area
    resize on the astronaut photo.) Border pixels repeat beyond the image, as the reference's
    ``copyMakeBorder``; the sums are float64 so that a frame's worth of levels stays exact.
    """
    squares = torch.as_tensor(squares, device=image.device).to(torch.int64).reshape(-1, 4)
    if len(squares) == 0:
        return torch.zeros((0, size, size), dtype=torch.uint8, device=image.device)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = squares.unbind(1)
    left, top = int(x0.min()), int(y0.min())
    rows = torch.arange(top, int(y1.max()), device=image.device).clamp_(0, height - 1)
    cols = torch.arange(left, int(x1.max()), device=image.device).clamp_(0, width - 1)
    region = image.index_select(0, rows).index_select(1, cols).to(torch.int32)  # border repeated by the clamps
    red, green, blue = OPENCV_GREY_WEIGHTS
    grey = (region[..., 0] * red + region[..., 1] * green + region[..., 2] * blue + (1 << 14)) >> 15
    integral = F.pad(grey.to(torch.float64).cumsum(0).cumsum(1), (1, 0, 1, 0))  # value at pixel corner (y, x)
    shrinking = (y1 - y0) > size  # as grey_face_crop decides
    x_low, x_high = _footprints(x1 - x0, size, shrinking)
    y_low, y_high = _footprints(y1 - y0, size, shrinking)
    xs = torch.cat((x_low, x_high), dim=1) + (x0 - left)[:, None]  # (K, 2 size) corner columns in the region
    ys = torch.cat((y_low, y_high), dim=1) + (y0 - top)[:, None]
    corners_y, corners_x = integral.shape
    grid = torch.stack(torch.broadcast_tensors((2 * xs / (corners_x - 1) - 1)[:, None, :],
                                               (2 * ys / (corners_y - 1) - 1)[:, :, None]), dim=-1)
    count = len(squares)
    sums = F.grid_sample(integral[None, None], grid.reshape(1, count * 2 * size, 2 * size, 2), mode="bilinear",
                         align_corners=True).view(count, 2, size, 2, size)
    box_sums = sums[:, 1, :, 1] - sums[:, 1, :, 0] - sums[:, 0, :, 1] + sums[:, 0, :, 0]
    areas = (y_high - y_low)[:, :, None] * (x_high - x_low)[:, None, :]
    # Halves round up, as OpenCV's; area means are multiples of 1/(crop width x height) and so a true half or
    # at least 1e-7 away from one for crops up to 2000 px, while sampling the corners errs by far less.
    return (box_sums / areas).add_(0.5 + 1e-7).floor_().clamp_(0, 255).to(torch.uint8)


def _footprints(lengths: torch.Tensor, size: int, shrinking: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, size) low and high edges [px from the crop's start] of the rectangle each output pixel averages,
    along one axis of crops ``lengths`` long: the pixel's footprint when shrinking, else a unit interval
    around OpenCV's bilinear sample point (half-pixel centres, kept inside the crop)."""
    index = torch.arange(size, dtype=torch.float64, device=lengths.device)
    length = lengths.to(torch.float64)[:, None]
    scale = length / size
    sample = torch.minimum(((index + 0.5) * scale - 0.5).clamp_min(0.0), length - 1.0)
    return (torch.where(shrinking[:, None], index * scale, sample),
            torch.where(shrinking[:, None], (index + 1) * scale, sample + 1.0))
