"""Frames from recordings and cameras, without ROS: a video file, a folder of images, a webcam.

Each source yields :class:`~emotion_perception.types.Frame` objects (RGB, stamped in nanoseconds) and knows
its image size, its frame count when the container tells it, and its frame rate. Stamps are data the
pipeline's tracking and gait windows depend on, so they follow the recording's own clock:

- a video file: ``start_ns + i / fps`` for its i-th frame, fps from the file (or given);
- an image folder (files sorted by name): ``start_ns + i / fps`` for the i-th image file, fps given (default
  :data:`DEFAULT_FOLDER_FPS`); a file that cannot be read is skipped and counted, keeping the gap in time;
- a webcam: the wall clock when each frame arrived.

Every source holds to a pixel limit (``max_pixels``, the setting ``input.max_image_pixels``, whose default it
takes unless given): a video or camera whose frames are larger is refused when it opens, and an image file is
refused from its header, before it is decoded (a small file can declare an enormous image).

``start_ns`` defaults to :data:`DEFAULT_START_NS`, a fixed non-zero time, so that a recording gives the same
stamps every run (and a bag made from it never starts simulated time at 0, which ROS reads as "unset").
"""

from __future__ import annotations

import collections
import decimal
import math
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ..runtime.image_codec import ImageDecodeError, ImageTooLargeError, decode_compressed
from ..settings import InputConfig
from ..pose.plausibility import intrinsics_problem
from ..types import CameraIntrinsics, Frame

DEFAULT_START_NS = 1_700_000_000_000_000_000
"""Stamp of a recording's first frame unless given: 2023-11-14 22:13:20 UTC (the sample bag's start)."""
DEFAULT_FOLDER_FPS = 30.0
"""Frame rate an image folder is stamped at unless given (the gait networks' rate)."""
DEFAULT_FRAME_ID = "camera_color_optical_frame"
"""The frames' ``frame_id`` (the bundled sample's camera frame)."""
DEFAULT_HFOV_DEG = 60.0
"""Horizontal field of view assumed for a recording without calibration: Gazebo's default camera (1.047 rad),
close to common webcams and RGB-D colour cameras (60-70 degrees)."""
DEFAULT_MAX_PIXELS = InputConfig().max_image_pixels
"""The node's default pixel limit, which every source holds to unless told another (0: none)."""
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"})
"""File name endings an image folder's frames are taken from (case-insensitive); other files are ignored."""


class SourceError(ValueError):
    """A source that cannot be opened or read: a missing path, a file that is not a video, an empty folder."""


def pinhole_intrinsics(width: int, height: int, fx_fy_cx_cy: tuple[float, float, float, float] | None = None,
                       hfov_deg: float | None = None) -> CameraIntrinsics:
    """Intrinsics for a ``width`` x ``height`` image: the given fx, fy, cx, cy, else from a horizontal field of
    view (default :data:`DEFAULT_HFOV_DEG`) with square pixels and the principal point at the image centre.

    Pixel centres sit at integer coordinates (as everywhere in the package), so the centre is ((w-1)/2, (h-1)/2)
    and the image spans w pixels: fx = (w / 2) / tan(hfov / 2).
    """
    if fx_fy_cx_cy is not None and hfov_deg is not None:
        raise ValueError("give the intrinsics or a horizontal field of view, not both")
    if fx_fy_cx_cy is not None:
        fx, fy, cx, cy = (float(v) for v in fx_fy_cx_cy)
        problem = intrinsics_problem(fx, fy, cx, cy, width, height)
        if problem:
            raise ValueError(problem)
        return CameraIntrinsics(fx, fy, cx, cy, width, height)
    hfov = DEFAULT_HFOV_DEG if hfov_deg is None else float(hfov_deg)
    if not 0.0 < hfov < 180.0:
        raise ValueError(f"horizontal field of view must lie between 0 and 180 degrees, not {hfov:g}")
    focal = (width / 2.0) / math.tan(math.radians(hfov) / 2.0)
    return CameraIntrinsics(focal, focal, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


def parse_intrinsics(text: str) -> tuple[float, float, float, float]:
    """``"fx,fy,cx,cy"`` (pixels) as four floats; ValueError saying what is wrong."""
    parts = text.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ValueError(f"intrinsics must be four numbers fx,fy,cx,cy in pixels, not {text!r}")
    return values  # type: ignore[return-value]


class FrameSource:
    """Frames of one recording or camera, in order; iterate once. Use as a context manager to release it."""

    kind: str = ""
    """'video', 'folder' or 'webcam'."""

    def __init__(self, name: str, width: int, height: int, fps: float, count: int | None, start_ns: int,
                 frame_id: str):
        self.name = name
        self.width = width
        self.height = height
        self.fps = fps
        self.count = count
        """Frames the source holds, when its container says (None for a camera)."""
        self.start_ns = start_ns
        self.frame_id = frame_id
        self.intrinsics: CameraIntrinsics | None = None
        """Attached to every frame when set (see :func:`pinhole_intrinsics`); a recording has none of its own."""
        self.skipped: collections.Counter[str] = collections.Counter()
        """Inputs passed over, by reason (e.g. 'unreadable_image'); each still took its place in time."""

    def describe(self) -> dict[str, object]:
        """What the source is, for summaries."""
        return {"kind": self.kind, "name": self.name, "width": self.width, "height": self.height, "fps": self.fps,
                "count": self.count, "start_ns": self.start_ns}

    def expected_frames(self, limit: int | None = None) -> int | None:
        """At most how many frames reading up to ``limit`` of them gives, when that is known (for progress bars)."""
        known = [n for n in (self.count, limit) if n is not None]
        return min(known) if known else None

    def stamp_ns(self, index: int) -> int:
        """The stamp of the ``index``-th frame at the source's frame rate."""
        return self.start_ns + round(index * 1e9 / self.fps)

    def _frame(self, rgb: np.ndarray, stamp_ns: int) -> Frame:
        return Frame(image=rgb, stamp_ns=stamp_ns, frame_id=self.frame_id, intrinsics=self.intrinsics)

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file or device (nothing to do for a folder)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_size(what: str, width: int, height: int, max_pixels: int) -> None:
    """SourceError when frames of ``width`` x ``height`` exceed ``max_pixels`` (0: none)."""
    if max_pixels and width * height > max_pixels:
        raise SourceError(f"{what}: its frames are {width}x{height}, over the limit of {max_pixels} pixels "
                          "(input.max_image_pixels)")


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _checked_fps(fps: float | None, what: str) -> float | None:
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"{what} frame rate must be positive, not {fps:g}")
    return fps


class VideoFileSource(FrameSource):
    """A video file read with OpenCV; stamps from its frame rate (or ``fps``, for files whose header is wrong).
    Frames over ``max_pixels`` (0: none) refuse the file before any is decoded."""

    kind = "video"

    def __init__(self, path: Path | str, fps: float | None = None, start_ns: int = DEFAULT_START_NS,
                 frame_id: str = DEFAULT_FRAME_ID, max_pixels: int = DEFAULT_MAX_PIXELS):
        path = Path(path)
        _checked_fps(fps, "the given")
        if not path.exists():
            raise SourceError(f"{path}: no such file")
        if not path.is_file():
            raise SourceError(f"{path} is not a file")
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise SourceError(f"{path}: OpenCV cannot open it as a video (not a video, or a codec it lacks)")
        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        file_fps = self._capture.get(cv2.CAP_PROP_FPS)
        if fps is None and not (math.isfinite(file_fps) and 0 < file_fps <= 1000):
            self.close()
            raise SourceError(f"{path} does not state a usable frame rate ({file_fps:g}); give one (--fps)")
        frames = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if width <= 0 or height <= 0:
            self.close()
            raise SourceError(f"{path}: OpenCV reads no image size from it; it is not a video it can decode")
        try:
            _check_size(str(path), width, height, max_pixels)
        except SourceError:
            self.close()
            raise
        super().__init__(str(path), width, height, float(fps or file_fps), frames if frames > 0 else None,
                         start_ns, frame_id)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, bgr = self._capture.read()
            if not ok:
                return
            yield self._frame(_rgb(bgr), self.stamp_ns(index))
            index += 1

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource(FrameSource):
    """The image files of a folder (not its sub-folders), sorted by name, stamped at ``fps``.

    All frames must share the first image's size (a video of them is written); a file that cannot be decoded,
    declares more than ``max_pixels`` in its header (0: none) or has another size is skipped and counted
    in ``skipped``.
    """

    kind = "folder"

    def __init__(self, folder: Path | str, fps: float | None = None, start_ns: int = DEFAULT_START_NS,
                 frame_id: str = DEFAULT_FRAME_ID, max_pixels: int = DEFAULT_MAX_PIXELS):
        folder = Path(folder)
        _checked_fps(fps, "the given")
        if not folder.is_dir():
            raise SourceError(f"{folder}: no such folder")
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise SourceError(f"{folder} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.max_pixels = max_pixels
        first, problem = None, ""
        for path in self.files:
            try:
                first = self._read(path)
                break
            except ImageDecodeError as exc:
                problem = f"{path.name}: {exc}"
        if first is None:
            raise SourceError(f"{folder}: none of its {len(self.files)} image files can be used (last: {problem})")
        height, width = first.shape[:2]
        super().__init__(str(folder), width, height, float(fps or DEFAULT_FOLDER_FPS), len(self.files),
                         start_ns, frame_id)

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            try:
                rgb = self._read(path)
            except ImageTooLargeError:
                self.skipped["too_large_image"] += 1
            except ImageDecodeError:
                self.skipped["unreadable_image"] += 1
            else:
                if rgb.shape[:2] != (self.height, self.width):
                    self.skipped["other_image_size"] += 1
                else:
                    yield self._frame(rgb, self.stamp_ns(index))

    def _read(self, path: Path) -> np.ndarray:
        """An RGB uint8 image (grey, 16-bit and alpha images converted by OpenCV); its size is checked against
        ``max_pixels`` from the header, before decoding. ImageDecodeError says why it cannot be used."""
        try:
            data = np.fromfile(path, dtype=np.uint8)
        except OSError as exc:
            raise ImageDecodeError(f"cannot read it ({exc})") from exc
        return decode_compressed(data, self.max_pixels)


class WebcamSource(FrameSource):
    """A camera OpenCV opens by index (V4L2 on Linux); stamps from the wall clock as each frame arrives.

    ``fps`` is asked of the camera (which may not grant it); the rate it reports is kept in ``fps``. A camera
    whose frames exceed ``max_pixels`` (0: none) is refused at its first frame.
    """

    kind = "webcam"

    def __init__(self, index: int, fps: float | None = None, frame_id: str = DEFAULT_FRAME_ID,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        _checked_fps(fps, "the given")
        try:
            self._capture = cv2.VideoCapture(index)
        except (cv2.error, OverflowError) as exc:  # an index OpenCV cannot even take (beyond a C int)
            raise SourceError(f"camera {index} cannot be opened: not a camera index OpenCV takes") from exc
        if not self._capture.isOpened():
            raise SourceError(f"camera {index} cannot be opened (no such device, or in use)")
        if fps is not None:
            self._capture.set(cv2.CAP_PROP_FPS, fps)
        ok, bgr = self._capture.read()
        if not ok:
            self.close()
            raise SourceError(f"camera {index} opened but gives no image")
        try:
            _check_size(f"camera {index}", bgr.shape[1], bgr.shape[0], max_pixels)
        except SourceError:
            self.close()
            raise
        self._first = (bgr, time.time_ns())
        reported = self._capture.get(cv2.CAP_PROP_FPS)
        rate = reported if math.isfinite(reported) and reported > 0 else (fps or DEFAULT_FOLDER_FPS)
        super().__init__(f"camera {index}", bgr.shape[1], bgr.shape[0], float(rate), None, self._first[1],
                         frame_id)

    def __iter__(self) -> Iterator[Frame]:
        bgr, stamp = self._first
        while True:
            yield self._frame(_rgb(bgr), stamp)
            ok, bgr = self._capture.read()
            stamp = time.time_ns()
            if not ok:
                return

    def close(self) -> None:
        self._capture.release()


def open_source(spec: str | Path, fps: float | None = None, start_ns: int = DEFAULT_START_NS,
                intrinsics: tuple[float, float, float, float] | None = None,
                hfov_deg: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> FrameSource:
    """The source ``spec`` names: a folder, a video file, or a webcam index (digits that are not a path).

    With ``intrinsics`` (fx, fy, cx, cy) or ``hfov_deg`` the frames carry camera intrinsics; otherwise none.
    Frames over ``max_pixels`` (0: none) are refused (see the module docstring).
    """
    path = Path(spec)
    if path.is_dir():
        source: FrameSource = ImageFolderSource(path, fps, start_ns, max_pixels=max_pixels)
    elif path.exists():
        source = VideoFileSource(path, fps, start_ns, max_pixels=max_pixels)
    elif str(spec).isdigit():
        source = WebcamSource(int(str(spec)), fps, max_pixels=max_pixels)
    else:
        raise SourceError(f"{spec}: no such file or folder (a webcam is named by its index, e.g. 0)")
    if intrinsics is not None or hfov_deg is not None:
        try:
            source.intrinsics = pinhole_intrinsics(source.width, source.height, intrinsics, hfov_deg)
        except ValueError:
            source.close()
            raise
    return source


def stamp_from_seconds(text: str) -> int:
    """Nanoseconds from decimal seconds (e.g. a Unix time ``"1700000000.25"``), exactly; ValueError otherwise."""
    try:
        seconds = decimal.Decimal(text)
    except decimal.InvalidOperation:
        seconds = decimal.Decimal("NaN")
    if not seconds.is_finite() or seconds < 0:
        raise ValueError(f"a start time is a non-negative number of seconds, not {text!r}")
    return int(seconds * 1_000_000_000)
