"""Deterministic synthetic tracking scenes with ground truth, and the MOT metrics of a tracker on them.

Twelve kinds of scene (``SCENE_KINDS``), each drawn from a seed: people walk on a floor seen by a
1280x720 camera at 30 Hz (stamps in ns); a person lower in the image is nearer, hence taller, and hides
the people behind. Detections imitate a person detector: boxes jitter and are missed at random; a person
partly hidden (by a nearer person, a pillar, the image border) scores lower and is boxed partly around
what is visible; one hidden too much is not detected; random clutter and static objects that the
detector keeps mistaking for a person ("ghosts") add false positives. The first seven kinds use a good
detector; the last five are harder: a dense crowd, hiding spells longer than the tracker's death age,
people lingering half out of the image, a weak detector (a pose model's person scores of 0.2-0.7, more
jitter, misses in bursts) and a hand-held camera that pans and shakes. The ground truth is each person's
full box, clipped to the image, in every frame where at least ``GT_MIN_VISIBLE`` of it can be seen.

Scored with motmetrics (a track matches a person at IoU >= 0.5). motmetrics 1.4 calls ``np.asfarray``,
removed in numpy 2, in its distance helpers only, so the IoU distance matrix is computed here with
:func:`box_iou` and motmetrics' accumulator and metrics run unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import motmetrics
import numpy as np

from emotion_perception.tracking import ByteTracker, box_iou
from emotion_perception.types import Detection

SCENE_KINDS = ("crossing", "group", "pillar", "pan", "frame_drop", "crowd", "enter_leave",
               "dense_crowd", "long_occlusion", "edge", "weak_detector", "shaky_camera")
SEEDS = range(5)
"""Sequences per kind in the suite (12 kinds x 5 = 60 sequences)."""
WIDTH, HEIGHT = 1280, 720
FPS = 30.0
START_NS = 1_700_000_000 * 10**9
GT_MIN_VISIBLE = 0.25
"""Least visible fraction of a person's box for the person to count in the ground truth."""
MATCH_IOU = 0.5
METRICS = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects",
           "mostly_tracked", "num_unique_objects"]

_GRID_X, _GRID_Y = 8, 16
"""Sample points per box for visibility (columns x rows)."""
_BODY_WIDTH = 0.75
"""Share of a box's width that a person's body fills (what hides the people behind)."""


def person_height(foot_y: float) -> float:
    """Box height [px] of a person whose feet are at image row ``foot_y`` (the floor's perspective)."""
    return max(0.6 * (float(foot_y) - 150.0), 40.0)


@dataclass
class Person:
    """One walker: feet position on the floor (world x in px at zero pan, image row) per scene frame."""

    x: np.ndarray
    y: np.ndarray
    start: int
    end: int
    aspect: float
    """Box width / height."""
    sway_phase: float
    base_score: float


@dataclass
class SceneFrame:
    """What the tracker is given at one stamp, and the truth behind it."""

    stamp_ns: int
    detections: list[Detection]
    detection_person: np.ndarray
    """(D,) index of the person each detection shows, -1 for a false positive."""
    truth_ids: np.ndarray
    """(N,) person indices in the ground truth of this frame."""
    truth_boxes: np.ndarray
    """(N, 4) their full boxes clipped to the image."""
    visibility: dict[int, float] = field(default_factory=dict)
    """Visible fraction of every person in the scene at this moment (0 outside the image), in the ground
    truth or not."""


@dataclass
class Scene:
    kind: str
    seed: int
    frames: list[SceneFrame]


# ---------------------------------------------------------------------------------------------------
# Motion


def walk(rng: np.random.Generator, frames: int, x0: float, y0: float, vx: float, vy: float = 0.0,
         wobble: float = 0.02, stop: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Feet positions of a walker at (vx, vy) m/s (vy > 0: towards the camera), with a wandering pace.

    ``stop`` = (first, end): frames standing still. Image speed follows the perspective: a metre is as
    many pixels as a 1.7 m person is tall there; moving in depth is foreshortened by half.
    """
    x, y = np.empty(frames), np.empty(frames)
    velocity = np.array([vx, vy], dtype=np.float64)
    nominal = velocity.copy()
    px, py = x0, y0
    for t in range(frames):
        x[t], y[t] = px, py
        velocity += rng.normal(0.0, wobble, 2) + 0.05 * (nominal - velocity)
        if stop is not None and stop[0] <= t < stop[1]:
            continue
        scale = person_height(py) / 1.7 / FPS
        px += velocity[0] * scale
        py = min(max(py + 0.5 * velocity[1] * scale, 330.0), 760.0)
    return x, y


def _person(rng: np.random.Generator, track: tuple[np.ndarray, np.ndarray], start: int = 0,
            end: int | None = None) -> Person:
    x, y = track
    return Person(x, y, start, len(x) if end is None else end, aspect=float(rng.uniform(0.34, 0.46)),
                  sway_phase=float(rng.uniform(0, 2 * np.pi)), base_score=float(rng.uniform(0.82, 0.97)))


@dataclass
class _Layout:
    """A scene before detection: walkers, pillars (world x ranges), ghost boxes, camera pan, frames seen."""

    frames: int
    people: list[Person]
    pillars: list[tuple[float, float]] = field(default_factory=list)
    ghosts: list[np.ndarray] = field(default_factory=list)
    pan: np.ndarray | None = None
    tilt: np.ndarray | None = None
    """Camera tilt per frame: every box shifts down by this [px] (None: none)."""
    seen: np.ndarray | None = None
    """Frames delivered to the tracker (all when None)."""
    stamps_ns: np.ndarray | None = None
    jitter: float = 0.02
    """Box noise std as a fraction of the person's height (for one in full view)."""
    score_noise: float = 0.04
    """Std of a detection's score around its person's expected score."""
    burst_miss: float = 0.0
    """Chance per frame that a detected person starts a run of 3-12 missed frames (a weak detector)."""
    missed_until: dict[int, int] = field(default_factory=dict)
    """Person index -> first frame after their current run of misses."""


def _ghosts(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Static objects a detector keeps taking for people (coat stands, posters)."""
    boxes = []
    for _ in range(count):
        foot = rng.uniform(380, 700)
        height = person_height(foot) * rng.uniform(0.7, 1.0)
        cx = rng.uniform(80, WIDTH - 80)
        boxes.append(np.array([cx - 0.2 * height, foot - height, cx + 0.2 * height, foot]))
    return boxes


def _crossing(rng: np.random.Generator, frames: int = 210) -> _Layout:
    """Pairs walking towards each other in nearby lanes, meeting mid-scene: the rear one is hidden a while."""
    people = []
    for _ in range(int(rng.integers(2, 4))):
        foot = rng.uniform(400, 680)
        meet_x, meet_t = rng.uniform(350, 930), rng.uniform(0.4, 0.6) * frames
        for direction in (1.0, -1.0):
            speed = rng.uniform(0.9, 1.6) * direction
            lane = foot + rng.uniform(-25, 25)
            px_per_frame = speed * person_height(lane) / 1.7 / FPS
            people.append(_person(rng, walk(rng, frames, meet_x - px_per_frame * meet_t, lane, speed, 0.0)))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 2))))


def _group(rng: np.random.Generator) -> _Layout:
    """Groups of 3-5 walking together side by side, overlapping; two groups pass each other."""
    frames = 210
    people = []
    for direction in (1.0, -1.0)[:int(rng.integers(1, 3))]:
        speed = rng.uniform(0.7, 1.3) * direction
        foot = rng.uniform(420, 660)
        x0 = 150 if direction > 0 else WIDTH - 150
        height = person_height(foot)
        for member in range(int(rng.integers(3, 6))):
            lane = foot + rng.uniform(-35, 35)
            offset = -direction * member * rng.uniform(0.35, 0.6) * height
            x, y = walk(rng, frames, x0 + offset, lane, speed + rng.normal(0, 0.03), 0.0, wobble=0.01)
            people.append(_person(rng, (x, y)))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 2))))


def _pillar(rng: np.random.Generator) -> _Layout:
    """Pillars in front of everyone; each walker is hidden behind one for 10-40 frames."""
    frames = 240
    people, pillars = [], []
    centres = [rng.uniform(400, 560), rng.uniform(760, 900)][:int(rng.integers(1, 3))]
    for index in range(int(rng.integers(3, 6))):
        foot = rng.uniform(380, 690)
        height = person_height(foot)
        speed = rng.uniform(0.8, 1.5) * rng.choice([-1.0, 1.0])
        px_per_frame = abs(speed) * height / 1.7 / FPS
        hidden = rng.uniform(10, 40)
        width = px_per_frame * hidden + 0.16 * height  # under 30% seen (hardly detectable) for ``hidden`` frames
        centre = centres[index % len(centres)]
        if index < len(centres):
            pillars.append((centre - width / 2, centre + width / 2))
        start_t = rng.uniform(20, 90)
        x0 = centre - np.sign(speed) * px_per_frame * start_t
        people.append(_person(rng, walk(rng, frames, x0, foot, speed, 0.0, wobble=0.01)))
    return _Layout(frames, people, pillars=pillars, ghosts=_ghosts(rng, int(rng.integers(0, 2))))


def _pan(rng: np.random.Generator) -> _Layout:
    """The camera pans back and forth: every box shifts together, standing people included."""
    frames = 210
    people = []
    for _ in range(int(rng.integers(4, 8))):
        speed = rng.choice([0.0, rng.uniform(0.6, 1.4)]) * rng.choice([-1.0, 1.0])
        people.append(_person(rng, walk(rng, frames, rng.uniform(100, 1500), rng.uniform(380, 690), speed, 0.0)))
    rate = rng.uniform(6, 14) * np.sin(np.linspace(0, 2 * np.pi * rng.uniform(0.8, 1.5), frames))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 3))), pan=np.cumsum(rate))


def _frame_drop(rng: np.random.Generator) -> _Layout:
    """Walkers crossing, seen only every k-th frame (k changing, bursts of drops), stamps jittered."""
    layout = _crossing(rng, frames=300)
    seen, t = [], 0
    while t < layout.frames:
        seen.append(t)
        t += int(rng.integers(8, 13)) if rng.random() < 0.05 else int(rng.integers(1, 6))
    layout.seen = np.asarray(seen)
    nominal = START_NS + np.round(layout.seen * 1e9 / FPS)
    layout.stamps_ns = np.maximum.accumulate(nominal + rng.normal(0, 4e6, len(seen))).astype(np.int64)
    return layout


def _crowd(rng: np.random.Generator) -> _Layout:
    """10-20 people walking in all directions or standing about."""
    frames = 180
    people = []
    for _ in range(int(rng.integers(10, 21))):
        heading = rng.uniform(0, 2 * np.pi)
        speed = 0.0 if rng.random() < 0.2 else rng.uniform(0.5, 1.5)
        people.append(_person(rng, walk(rng, frames, rng.uniform(50, WIDTH - 50), rng.uniform(360, 700),
                                        speed * np.cos(heading), speed * np.sin(heading))))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 3))))


def _enter_leave(rng: np.random.Generator) -> _Layout:
    """People entering at the image borders at staggered times, crossing, some stopping, leaving."""
    frames = 300
    people = []
    for _ in range(int(rng.integers(4, 8))):
        direction = rng.choice([-1.0, 1.0])
        foot = rng.uniform(380, 690)
        height = person_height(foot)
        start = int(rng.integers(0, 150))
        x0 = -0.3 * height if direction > 0 else WIDTH + 0.3 * height
        stop = None
        if rng.random() < 0.3:
            first = int(rng.integers(30, 90))
            stop = (first, first + int(rng.integers(20, 60)))
        x, y = walk(rng, frames - start, x0, foot, direction * rng.uniform(1.0, 1.8), 0.0, stop=stop)
        x = np.concatenate([np.full(start, x0), x])
        y = np.concatenate([np.full(start, foot), y])
        inside = (x + 0.25 * height > 0) & (x - 0.25 * height < WIDTH)
        last_inside = start + int(np.flatnonzero(inside[start:])[-1]) + 1 if inside[start:].any() else start
        people.append(_person(rng, (x, y), start=start, end=min(frames, last_inside + 5)))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 2))))


def _dense_crowd(rng: np.random.Generator) -> _Layout:
    """25-40 people in the same room: walking in all directions, a third standing about."""
    frames = 150
    people = []
    for _ in range(int(rng.integers(25, 41))):
        heading = rng.uniform(0, 2 * np.pi)
        speed = 0.0 if rng.random() < 0.33 else rng.uniform(0.4, 1.4)
        people.append(_person(rng, walk(rng, frames, rng.uniform(30, WIDTH - 30), rng.uniform(350, 710),
                                        speed * np.cos(heading), speed * np.sin(heading))))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(1, 4))))


def _long_occlusion(rng: np.random.Generator) -> _Layout:
    """Wide pillars: each walker is hidden for 40-80 frames (1.3-2.7 s), longer than a track lives lost."""
    frames = 300
    people, pillars = [], []
    centres = [rng.uniform(380, 520), rng.uniform(780, 920)][:int(rng.integers(1, 3))]
    for index in range(int(rng.integers(3, 6))):
        foot = rng.uniform(380, 690)
        height = person_height(foot)
        speed = rng.uniform(0.8, 1.4) * rng.choice([-1.0, 1.0])
        px_per_frame = abs(speed) * height / 1.7 / FPS
        width = px_per_frame * rng.uniform(40, 80) + 0.16 * height
        centre = centres[index % len(centres)]
        if index < len(centres):
            pillars.append((centre - width / 2, centre + width / 2))
        x0 = centre - np.sign(speed) * px_per_frame * rng.uniform(40, 100)
        people.append(_person(rng, walk(rng, frames, x0, foot, speed, 0.0, wobble=0.01)))
    return _Layout(frames, people, pillars=pillars, ghosts=_ghosts(rng, int(rng.integers(0, 2))))


def _edge(rng: np.random.Generator) -> _Layout:
    """People lingering at the image borders: stepping in and out at the sides, near ones cut at the bottom."""
    frames = 240
    people = []
    for _ in range(int(rng.integers(4, 8))):
        foot = rng.uniform(380, 760)  # feet below the image bottom for the nearest
        height = person_height(foot)
        side = rng.choice([0.0, float(WIDTH)])
        amplitude = rng.uniform(0.3, 0.9) * height
        period = rng.uniform(60, 160)
        phase = rng.uniform(0, 2 * np.pi)
        t = np.arange(frames)
        inward = 1.0 if side == 0.0 else -1.0
        x = side + inward * (amplitude * np.sin(2 * np.pi * t / period + phase) + rng.uniform(-0.1, 0.3) * height)
        y = foot + np.cumsum(rng.normal(0, 0.3, frames))
        people.append(_person(rng, (x, y)))
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 2))))


def _weak_detector(rng: np.random.Generator) -> _Layout:
    """8-14 people walking in all directions, seen by a weak detector (a pose model's person scores)."""
    frames = 210
    people = []
    for _ in range(int(rng.integers(8, 15))):
        heading = rng.uniform(0, 2 * np.pi)
        speed = 0.0 if rng.random() < 0.2 else rng.uniform(0.5, 1.5)
        person = _person(rng, walk(rng, frames, rng.uniform(50, WIDTH - 50), rng.uniform(360, 700),
                                   speed * np.cos(heading), speed * np.sin(heading)))
        person.base_score = float(rng.uniform(0.45, 0.75))  # 0.2-0.7 once partly hidden or noisy
        people.append(person)
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 3))), jitter=0.035, score_noise=0.08,
                   burst_miss=0.02)


def _shaky_camera(rng: np.random.Generator) -> _Layout:
    """A hand-held camera: slow pans with jerks, and up-and-down shake of tens of pixels."""
    frames = 210
    people = []
    for _ in range(int(rng.integers(5, 10))):
        speed = rng.choice([0.0, rng.uniform(0.6, 1.4)]) * rng.choice([-1.0, 1.0])
        people.append(_person(rng, walk(rng, frames, rng.uniform(100, 1400), rng.uniform(380, 690), speed, 0.0)))
    rate = np.cumsum(rng.normal(0, 1.0, frames)) + 15 * (rng.random(frames) < 0.03) * rng.choice([-1, 1], frames)
    shake = 20 * np.sin(np.linspace(0, 2 * np.pi * rng.uniform(3, 6), frames)) + rng.normal(0, 4, frames)
    return _Layout(frames, people, ghosts=_ghosts(rng, int(rng.integers(0, 3))), pan=np.cumsum(np.clip(rate, -25, 25)),
                   tilt=shake, jitter=0.03)


_LAYOUTS: dict[str, Callable[[np.random.Generator], _Layout]] = {
    "crossing": _crossing, "group": _group, "pillar": _pillar, "pan": _pan, "frame_drop": _frame_drop,
    "crowd": _crowd, "enter_leave": _enter_leave, "dense_crowd": _dense_crowd, "long_occlusion": _long_occlusion,
    "edge": _edge, "weak_detector": _weak_detector, "shaky_camera": _shaky_camera}


# ---------------------------------------------------------------------------------------------------
# Detection


def _boxes(layout: _Layout, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices, full boxes (xyxy, image) and feet rows of the people present at frame t."""
    pan = 0.0 if layout.pan is None else float(layout.pan[t])
    tilt = 0.0 if layout.tilt is None else float(layout.tilt[t])
    present = [i for i, p in enumerate(layout.people) if p.start <= t < p.end]
    boxes = np.zeros((len(present), 4))
    feet = np.zeros(len(present))
    for row, index in enumerate(present):
        person = layout.people[index]
        foot, cx = person.y[t], person.x[t] - pan
        height = person_height(foot)
        moving = t > 0 and abs(person.x[t] - person.x[t - 1]) > 0.1
        width = person.aspect * height * (1 + (0.06 * np.sin(0.38 * t + person.sway_phase) if moving else 0.0))
        boxes[row] = (cx - width / 2, foot - height + tilt, cx + width / 2, foot + tilt)
        feet[row] = foot
    return np.asarray(present, dtype=int), boxes, feet


def _visible_points(boxes: np.ndarray, feet: np.ndarray, pillars: np.ndarray) -> np.ndarray:
    """(P, rows, cols) True where a sample point of each box is seen: in the image, not behind a pillar
    or the body of a nearer person (feet lower in the image)."""
    u = (np.arange(_GRID_X) + 0.5) / _GRID_X
    v = (np.arange(_GRID_Y) + 0.5) / _GRID_Y
    px = np.broadcast_to((boxes[:, 0, None] + u * (boxes[:, 2] - boxes[:, 0])[:, None])[:, None, :],
                         (len(boxes), _GRID_Y, _GRID_X))
    py = np.broadcast_to((boxes[:, 1, None] + v * (boxes[:, 3] - boxes[:, 1])[:, None])[:, :, None],
                         (len(boxes), _GRID_Y, _GRID_X))
    seen = (px >= 0) & (px < WIDTH) & (py >= 0) & (py < HEIGHT)
    for x0, x1 in pillars:
        seen &= (px < x0) | (px > x1)
    centre = (boxes[:, 0] + boxes[:, 2]) / 2
    half = _BODY_WIDTH * (boxes[:, 2] - boxes[:, 0]) / 2
    nearer = feet[None, :] > feet[:, None]  # (P, other)
    inside = ((np.abs(px[:, None] - centre[None, :, None, None]) <= half[None, :, None, None])
              & (py[:, None] >= boxes[None, :, 1, None, None]) & (py[:, None] <= boxes[None, :, 3, None, None]))
    return seen & ~(inside & nearer[:, :, None, None]).any(axis=1)


def _visible_box(box: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Extent of the seen sample points of ``box`` (half a grid cell around them)."""
    rows, cols = np.nonzero(seen)
    cell = np.array([(box[2] - box[0]) / _GRID_X, (box[3] - box[1]) / _GRID_Y])
    return np.array([box[0] + cols.min() * cell[0], box[1] + rows.min() * cell[1],
                     box[0] + (cols.max() + 1) * cell[0], box[1] + (rows.max() + 1) * cell[1]])


_IMAGE_MAX = np.array([WIDTH, HEIGHT, WIDTH, HEIGHT], dtype=np.float64)


def _clip(box: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(box, 0.0), _IMAGE_MAX)


def _detect(rng: np.random.Generator, layout: _Layout, t: int, stamp_ns: int) -> SceneFrame:
    present, boxes, feet = _boxes(layout, t)
    pan = 0.0 if layout.pan is None else float(layout.pan[t])
    pillars = np.asarray([(x0 - pan, x1 - pan) for x0, x1 in layout.pillars]).reshape(-1, 2)
    seen = _visible_points(boxes, feet, pillars) if len(boxes) else np.zeros((0, _GRID_Y, _GRID_X), bool)
    visibility = seen.mean(axis=(1, 2)) if len(boxes) else np.zeros(0)
    detections, owners = [], []
    for row, index in enumerate(present):
        person, vis = layout.people[index], float(visibility[row])
        chance = min(max((vis - 0.2) / 0.3, 0.0), 1.0) * 0.96  # 4% missed at random even in full view
        if rng.random() >= chance or layout.missed_until.get(int(index), 0) > t:
            continue
        if layout.burst_miss and rng.random() < layout.burst_miss:
            layout.missed_until[int(index)] = t + int(rng.integers(3, 13))
        full = _clip(boxes[row])
        shown = full + 0.6 * (_visible_box(boxes[row], seen[row]) - full)
        height = boxes[row, 3] - boxes[row, 1]
        noisy = _clip(shown + rng.normal(0, layout.jitter * height * (2 - vis), 4))
        score = min(max(person.base_score * (0.3 + 0.7 * vis) + rng.normal(0, layout.score_noise), 0.05), 0.99)
        if noisy[2] - noisy[0] > 2 and noisy[3] - noisy[1] > 2:
            detections.append(Detection(noisy.astype(np.float32), score))
            owners.append(index)
    for _ in range(rng.poisson(0.3)):  # clutter
        foot = rng.uniform(350, HEIGHT)
        height = person_height(foot)
        cx = rng.uniform(0, WIDTH)
        box = _clip(np.array([cx - 0.2 * height, foot - height, cx + 0.2 * height, foot]))
        detections.append(Detection(box.astype(np.float32), float(rng.uniform(0.1, 0.65))))
        owners.append(-1)
    for ghost in layout.ghosts:
        if rng.random() < 0.3:
            height = ghost[3] - ghost[1]
            tilt = 0.0 if layout.tilt is None else float(layout.tilt[t])
            box = _clip(ghost - [pan, -tilt, pan, -tilt] + rng.normal(0, 0.02 * height, 4))
            if box[2] - box[0] > 2:
                detections.append(Detection(box.astype(np.float32), float(rng.uniform(0.45, 0.8))))
                owners.append(-1)
    order = rng.permutation(len(detections))
    in_truth = visibility >= GT_MIN_VISIBLE
    return SceneFrame(stamp_ns, [detections[i] for i in order], np.asarray(owners, dtype=int)[order],
                      present[in_truth], np.asarray([_clip(b) for b in boxes[in_truth]]).reshape(-1, 4),
                      {int(i): float(v) for i, v in zip(present, visibility)})


def make_scene(kind: str, seed: int) -> Scene:
    """The scene of ``kind`` drawn from ``seed``: the same every time."""
    rng = np.random.default_rng([SCENE_KINDS.index(kind), seed])
    layout = _LAYOUTS[kind](rng)
    seen = np.arange(layout.frames) if layout.seen is None else layout.seen
    stamps = (START_NS + np.round(seen * 1e9 / FPS).astype(np.int64) if layout.stamps_ns is None
              else layout.stamps_ns)
    return Scene(kind, seed, [_detect(rng, layout, int(t), int(stamp)) for t, stamp in zip(seen, stamps)])


def scene_suite(seeds=SEEDS) -> list[Scene]:
    """Every kind, one scene per seed."""
    return [make_scene(kind, seed) for kind in SCENE_KINDS for seed in seeds]


# ---------------------------------------------------------------------------------------------------
# Scoring


def accumulate(scene: Scene, tracker: ByteTracker) -> motmetrics.MOTAccumulator:
    """Run ``tracker`` over the scene; motmetrics events of its reported boxes against the truth."""
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for frame in scene.frames:
        people = tracker.update(frame.detections, frame.stamp_ns)
        reported = np.asarray([p.box for p in people], dtype=np.float64).reshape(-1, 4)
        iou = box_iou(frame.truth_boxes, reported)
        distance = np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)
        accumulator.update(frame.truth_ids.tolist(), [p.track_id for p in people], distance)
    return accumulator


def mot_table(scenes: list[Scene], make_tracker: Callable[[], ByteTracker] = ByteTracker) -> dict[str, dict]:
    """MOT metrics per scene kind and ``overall`` (a fresh tracker per scene)."""
    metrics = motmetrics.metrics.create()
    accumulators = [accumulate(scene, make_tracker()) for scene in scenes]
    table = {}
    for kind in [*dict.fromkeys(scene.kind for scene in scenes), "overall"]:
        chosen = [a for a, s in zip(accumulators, scenes) if kind in ("overall", s.kind)]
        summary = metrics.compute_many(chosen, metrics=METRICS, generate_overall=True,
                                       names=[str(i) for i in range(len(chosen))])
        table[kind] = {name: float(summary.loc["OVERALL", name]) for name in METRICS}
    return table


def format_table(table: dict[str, dict]) -> str:
    lines = [f"{'scene':12s} {'MOTA':>6s} {'IDF1':>6s} {'IDsw':>5s} {'FP':>6s} {'FN':>6s} {'GT':>6s}"]
    for kind, row in table.items():
        lines.append(f"{kind:12s} {row['mota']:6.3f} {row['idf1']:6.3f} {row['num_switches']:5.0f} "
                     f"{row['num_false_positives']:6.0f} {row['num_misses']:6.0f} {row['num_objects']:6.0f}")
    return "\n".join(lines)
