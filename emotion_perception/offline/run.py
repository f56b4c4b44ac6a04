"""The pipeline over a video file, an image folder or a webcam, without ROS: what ``emotion-perception run`` does.

A run writes three files into its output folder:
- ``annotated.mp4``: every frame read, with the debug drawing of the node's ``~/debug_image``
  (:func:`~emotion_perception.visualization.draw_people`); frames the pipeline rejects go in undrawn, so the
  video keeps the recording's timeline. MPEG-4 Part 2 (``mp4v``): the codec OpenCV's pip wheels can write
  (their FFmpeg has no H.264 encoder) and that common players read;
- ``people.csv`` and ``summary.json``: the same columns and summary as ``bag process``
  (:mod:`emotion_perception.offline.report`), plus the source's description in the summary.

People come from the person detector: a recording carries no tracked skeletons to fall back on, so a run
without usable detector weights is refused before it starts. Ctrl+C ends a run early; what was processed
is still written (the summary says ``"interrupted": true``). SIGTERM ends it without output (the command
removes the unfinished folder).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..detection import BACKENDS
from ..pipeline import FrameRejected, Pipeline
from .report import RunRecord
from ..settings import Settings
from .sources import FrameSource
from ..types import FrameResult
from ..visualization import draw_people

VIDEO_FILE = "annotated.mp4"
VIDEO_CODEC = "mp4v"
"""FourCC of the annotated video (see the module docstring)."""


VIDEO_MAX_SIDE = 8191
"""Widest and tallest frame OpenCV's mp4v encoder takes [px] (it refuses 8192 and more)."""


class AnnotatedVideo:
    """An mp4 file of RGB frames, each drawn with its frame's result or left undrawn (a rejected frame), so
    that the video keeps the recording's timeline; ``run`` and ``bag process`` write it alike.

    The first frame's size is the video's (given up front when the source knows it, so that a size the
    encoder refuses stops a run before any work); a later frame of another size is scaled to it.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int] | None = None):
        self.path = path
        self.fps = fps
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        if size is not None:
            self._open(size)

    def _open(self, size: tuple[int, int]) -> None:
        width, height = size
        if max(width, height) > VIDEO_MAX_SIDE:
            raise ValueError(f"cannot write {width}x{height} frames to {VIDEO_FILE}: OpenCV's {VIDEO_CODEC} encoder "
                             f"takes at most {VIDEO_MAX_SIDE} px a side; run without the video (--no-video)")
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*VIDEO_CODEC), self.fps, size)
        if not self._writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {width}x{height} {VIDEO_CODEC} video to {self.path}; run "
                               "without the video (--no-video)")
        self.size = (width, height)

    def add(self, rgb: np.ndarray, result: FrameResult | None = None) -> None:
        """Append ``rgb``, drawn with ``result`` (:func:`~emotion_perception.visualization.draw_people`) if given."""
        if self._writer is None:
            self._open((rgb.shape[1], rgb.shape[0]))
        image = draw_people(rgb, result) if result is not None else rgb
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def describe(self) -> dict[str, Any]:
        """What was written, for summaries."""
        return {"file": VIDEO_FILE, "codec": VIDEO_CODEC, "frames": self.frames}

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def check_people_source(pipeline: Pipeline) -> None:
    """Refuse a pipeline that cannot see anybody in a recording: it must take people from a working detector."""
    if pipeline.settings.pipeline.pose_source != "detector":
        raise ValueError("a recording carries no tracked skeletons: people come from the person detector "
                         "(pipeline.pose_source=detector)")
    people = pipeline.people_status()
    if not people.available:
        hint = BACKENDS[pipeline.settings.detector.model].weights_hint
        raise ValueError(f"no person detector ({people.status}): nobody could be seen. Get the detector weights "
                         f"({hint}) or name a local file (--set detector.weights=PATH)")


def run_source(source: FrameSource, out: Path, settings: Settings | None = None, pipeline: Pipeline | None = None,
               max_frames: int | None = None, video: bool = True, progress: bool = True,
               log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the pipeline over ``source`` (at most ``max_frames`` frames) and write the annotated video (unless
    ``video`` is False), people.csv and summary.json into the folder ``out`` (created if needed); returns the
    summary. ``pipeline`` replaces the one ``settings`` would build (tests pass one with a ready detector).
    """
    from tqdm import tqdm

    log = log or (lambda text: print(f"note: {text}", file=sys.stderr))
    out.mkdir(parents=True, exist_ok=True)
    # the video first: a frame size its encoder refuses stops the run before the networks load
    annotated = AnnotatedVideo(out / VIDEO_FILE, source.fps, (source.width, source.height)) if video else None
    try:
        pipeline = pipeline or Pipeline(settings, log=log)
        check_people_source(pipeline)
    except BaseException:
        if annotated is not None:
            annotated.close()
        raise
    record = RunRecord()
    counts = record.counts
    interrupted = False
    try:
        with tqdm(total=source.expected_frames(max_frames), unit="frame", disable=not progress,
                  desc=Path(source.name).name) as bar:
            for frame in itertools.islice(source, max_frames):
                counts["images"] += 1
                bar.update(1)
                try:
                    result = pipeline.process(frame)
                except FrameRejected as exc:
                    counts[exc.reason] += 1
                    if annotated is not None:
                        annotated.add(frame.image)
                    continue
                record.add(result)
                if annotated is not None:
                    annotated.add(frame.image, result)
    except KeyboardInterrupt:
        interrupted = True
        log(f"interrupted after {counts['images']} frames: writing what was processed")
    finally:
        if annotated is not None:
            annotated.close()
    counts.update(source.skipped)
    written = annotated.describe() if annotated is not None else None
    summary = {"source": source.describe(), "interrupted": interrupted, "video": written, **record.summary(pipeline)}
    record.write(out, summary, pipeline)
    return summary
