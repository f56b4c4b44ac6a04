"""The debug image: one colour per label everywhere (image, RViz markers, plots), blocks that never hide each
other, the legend or a box drawn later, and any coordinates drawn without error."""

from __future__ import annotations

import numpy as np
import pytest
from std_msgs.msg import Header

from emotion_perception.labels import EMOTIONS, UNKNOWN, label_colour
from emotion_perception.ros.markers import MarkerWriter
from emotion_perception.offline.scoring import LABEL_COLOURS as PLOT_COLOURS
from emotion_perception.types import FrameResult, FusedEstimate, PersonEmotion, PersonPosition, Skeleton
from emotion_perception.cues.gait.results import GaitResult
from emotion_perception.visualization import BLOCK_SHADE, draw_people

WHITE = 255
SHADED_ONCE = int(WHITE * BLOCK_SHADE)
SHADED_TWICE = int(SHADED_ONCE * BLOCK_SHADE)
"""A white pixel under two label blocks (or a block and the legend): what overlapping blocks leave."""


def person(track_id: int, box, label: str = UNKNOWN, cues: int = 3) -> PersonEmotion:
    fused = FusedEstimate(True, label, 0.7) if label != UNKNOWN else FusedEstimate(False)
    results = {name: GaitResult(False, f"collecting: {track_id}/45 frames") for name in ("gait", "face", "context")[:cues]}
    return PersonEmotion(track_id=track_id, box=np.asarray(box, np.float32), detection_score=0.9, cues=results,
                         fused=fused, position=PersonPosition(valid=True, point=np.array([0.0, 0.0, 3.0], np.float32)))


def crowd(count: int, width: int, height: int) -> FrameResult:
    rng = np.random.default_rng(7)
    people = []
    for index in range(count):
        x = rng.uniform(0, width - 60)
        y = rng.uniform(0, height - 120)
        people.append(person(index + 1, [x, y, x + 60, y + 120], ([*EMOTIONS, UNKNOWN])[index % 5]))
    return FrameResult(stamp_ns=0, frame_id="cam", people=people)


@pytest.mark.parametrize("count", [8, 16])
def test_label_blocks_in_a_crowd_overlap_neither_each_other_nor_the_legend(count):
    """Blocks used to cover each other and the legend in crowds."""
    white = np.full((360, 640, 3), WHITE, np.uint8)
    drawn = draw_people(white, crowd(count, 640, 360))
    shaded = (drawn == SHADED_ONCE).all(axis=2)
    overlapped = (drawn == SHADED_TWICE).all(axis=2)
    assert shaded.sum() > count * 1000, "every person's block (and the legend) is drawn on a shaded ground"
    assert not overlapped.any(), f"{overlapped.sum()} pixels lie under two blocks"


def test_boxes_and_skeletons_are_drawn_before_every_label_block():
    """A later person's box used to be drawn across an earlier person's block."""
    first = person(1, [100, 150, 200, 300], "happy", cues=0)  # its block sits just above its box: y 131-150
    second = person(2, [50, 140, 400, 340], "angry", cues=0)  # its top edge (y = 140) runs through that block
    second.skeleton = Skeleton(np.array([[60, 140], [390, 140]] + [[0, 0]] * 14, np.float32),
                               np.array([1, 1] + [0] * 14, np.float32))
    drawn = draw_people(np.full((360, 640, 3), WHITE, np.uint8), FrameResult(0, "cam", [first, second]))
    crossing = drawn[139:142, 150:180].reshape(-1, 3)
    assert not (crossing == label_colour("angry")).all(axis=1).any(), "the box shows through the block"
    assert (drawn[139:142, 60:90] == label_colour("angry")).all(axis=2).any(), "the box itself is drawn"


@pytest.mark.parametrize("label", [*EMOTIONS, UNKNOWN])
def test_each_label_has_one_colour_in_the_image_the_markers_and_the_plots(label):
    """Neutral was grey in the image and green in the plots; tracks were drawn in the labels' colours."""
    result = FrameResult(0, "cam", [person(3, [200, 100, 300, 300], label)])
    drawn = draw_people(np.full((360, 640, 3), WHITE, np.uint8), result)
    assert tuple(drawn[200, 200]) == label_colour(label), "the box's left edge"
    sphere = MarkerWriter().markers(result, Header()).markers[0]
    assert tuple(round(c * 255) for c in (sphere.color.r, sphere.color.g, sphere.color.b)) == label_colour(label)
    assert PLOT_COLOURS[label] == "#{:02x}{:02x}{:02x}".format(*label_colour(label))


def test_another_persons_identity_is_never_drawn_in_a_label_colour():
    """Two sad people get the same colour: they are told apart by their ids, not by colours meaning labels."""
    result = FrameResult(0, "cam", [person(1, [100, 100, 200, 300], "sad"), person(2, [300, 100, 400, 300], "sad")])
    drawn = draw_people(np.full((360, 640, 3), WHITE, np.uint8), result)
    assert tuple(drawn[200, 100]) == tuple(drawn[200, 300]) == label_colour("sad")
    others = [label_colour(label) for label in EMOTIONS if label != "sad"]  # (UNKNOWN's grey is also anti-aliased text)
    above_legend = drawn[:320]
    assert not any((above_legend == colour).all(axis=2).any() for colour in others), "only the legend shows the others"


def test_coordinates_of_any_size_are_drawn_without_error():
    """A joint at x = 3e38 (an FLT_MAX sentinel) made cv2.line raise and the frame's debug image was lost."""
    wild = person(1, [np.nan, 0, np.inf, 10], "happy")
    wild.skeleton = Skeleton(np.array([[3e38, -3e38], [10, 10]] + [[1e30, 1e30]] * 14, np.float32), np.ones(16, np.float32))
    huge = person(2, [-1e12, -1e12, 1e12, 1e12], "sad")
    drawn = draw_people(np.zeros((120, 160, 3), np.uint8), FrameResult(0, "cam", [wild, huge]))
    assert drawn.shape == (120, 160, 3) and drawn.any()
