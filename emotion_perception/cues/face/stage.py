"""The face stage: an image and its people -> one facial-expression result per person, all faces in one batch.

A person's face box comes from their head keypoints when enough are confident; for everyone else MTCNN
runs once per frame, on the part of the image their boxes cover, and its faces are matched to them
(face/boxes.py). Faces of a usable size are cropped grey, and all of the frame's faces go through the
expression network together.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import torch

from ...runtime.acceleration import accelerate_network
from ...runtime.loading import stage_load_problem
from ...configuration import setting
from ..base import fusion_weight_setting, interval_setting
from ...types import checked_boxes
from ...runtime.weights import WeightsError
from .boxes import (assign_faces, face_box_from_keypoints, face_crop_square, grey_face_crop, grey_face_crops,
                    head_anchor, square_touches_image)
from .expression import DEFAULT_WEIGHTS as DEFAULT_EXPRESSION_WEIGHTS
from .expression import ExpressionClassifier, load_expression_model
from .mtcnn import DEFAULT_WEIGHTS as DEFAULT_DETECTOR_WEIGHTS
from .mtcnn import MTCNN, load_mtcnn
from .labels import FACE_EXPRESSIONS
from .results import FaceResult

NO_FACE = "no face visible"


@dataclass
class FaceConfig:
    """Settings of the face cue (each becomes a ROS parameter)."""

    expression_weights: str = setting(
        DEFAULT_EXPRESSION_WEIGHTS, "expression network: released weights name (fer_mini_xception), a Keras "
        "mini-XCEPTION .hdf5 (with a passport NAME.json beside it unless released) or our NAME.pt checkpoint; "
        "empty switches the face cue off")
    detector: bool = setting(True, "find faces with MTCNN for people whose head keypoints are missing or not "
                                   "confident enough")
    detector_weights: str = setting(DEFAULT_DETECTOR_WEIGHTS, "released MTCNN weights: NAME_pnet, NAME_rnet and "
                                                              "NAME_onet")
    min_face_size: float = setting(20.0, "smallest face [px] (box side): MTCNN searches down to it and smaller "
                                         "faces get no expression", min=4.0)
    keypoint_threshold: float = setting(0.5, "least confidence of a head keypoint (COCO nose, eyes, ears) used to "
                                             "place the face box [0-1]", min=0.0, max=1.0)
    fusion_weight: float = fusion_weight_setting(0.5)
    min_interval_s: float = interval_setting(0.2)


class FaceExpression:
    """Facial expressions of the people in a frame; unavailable (never guessing) without its weights.

    ``device`` is the pipeline's torch device for every network of the stage.
    """

    def __init__(self, config: FaceConfig | None = None, device: str | torch.device = "cpu") -> None:
        self.config = config or FaceConfig()
        self.device = torch.device(device)
        self.classifier: ExpressionClassifier | None = None
        self.detector: MTCNN | None = None
        self.dropped_faces = 0
        """Detected faces that fell to no person (outside every box, or another face was nearer), since start."""
        self.status = self._load()

    def _load(self) -> str:
        cfg = self.config
        problem = stage_load_problem(cfg, "face", self.device, "no expression weights configured; set "
                                     f"expression_weights to {DEFAULT_EXPRESSION_WEIGHTS} (fetched by "
                                     "`emotion-perception weights fetch`)", weights_field="expression_weights")
        if problem:
            return f"face cue off: {problem}"
        try:
            classifier = load_expression_model(cfg.expression_weights, self.device)
            detector = (load_mtcnn(cfg.detector_weights, self.device, min_face_size=cfg.min_face_size)
                        if cfg.detector else None)
        except (WeightsError, ValueError) as exc:
            return f"face cue off: {exc}"
        self.classifier, self.detector = classifier, detector
        faces_from = f"MTCNN ({cfg.detector_weights}) and head keypoints" if detector else "head keypoints only"
        return f"ok: {classifier.name} on {self.device}, faces from {faces_from}"

    @property
    def available(self) -> bool:
        return self.classifier is not None

    def to(self, device: torch.device | str) -> None:
        """Move both networks (the node parks them on the CPU while inactive)."""
        self.device = torch.device(device)
        for network in (self.classifier, self.detector):
            if network is not None:
                network.to(self.device)

    def accelerate(self, mode: str, precision: str) -> str:
        """Run the expression network on the path ``mode`` names (acceleration.py: eager, compile, tensorrt); a
        note for the log. Its input is fixed apart from the batch axis, so on CUDA it may replay CUDA graphs.
        MTCNN stays eager: P-Net sees a new image size at every pyramid level (docs/acceleration.md)."""
        if self.classifier is None:
            return f"{mode}: no face expression network ({self.status})"
        classifier, device = self.classifier, self.device
        side = classifier.input_size

        def faces(count: int) -> tuple[torch.Tensor, ...]:  # grey faces in [-1, 1], channels-last like predict()'s
            return ((2 * torch.rand(count, 1, side, side, device=device) - 1).contiguous(memory_format=torch.channels_last),)

        classifier.network, note = accelerate_network(classifier.network, faces, device, precision, mode,
                                                      name=f"face expression network ({classifier.name})",
                                                      cuda_graphs=True)
        return note

    def __call__(self, image: np.ndarray, person_boxes: np.ndarray,
                 head_keypoints: list[np.ndarray | None] | None = None) -> list[FaceResult]:
        """One result per person, in order.

        ``image`` (H, W, 3) uint8 RGB; ``person_boxes`` (N, 4) x_min, y_min, x_max, y_max [px];
        ``head_keypoints[i]`` person i's (5, 3) COCO nose, left/right eye, left/right ear as x, y [px] and
        confidence [0-1] (or all 17 COCO keypoints, of which the first five are these), or None when no
        keypoint detector ran for them. Keypoints of another shape count as None.
        """
        boxes = self._check(image, person_boxes, head_keypoints)
        keypoints = head_keypoints if head_keypoints is not None else [None] * len(boxes)
        if self.classifier is None:
            return [FaceResult(False, self.status) for _ in boxes]
        threshold = self.config.keypoint_threshold
        faces: list[tuple[np.ndarray, float, str] | None] = []
        for points in keypoints:
            placed = face_box_from_keypoints(points, threshold)
            faces.append(None if placed is None else (*placed, "keypoints"))
        searching = [i for i, face in enumerate(faces) if face is None and np.isfinite(boxes[i]).all()]
        if searching and self.detector is not None:
            self._detect(image, boxes, keypoints, faces, searching)
        return self._classify(image, faces)

    @staticmethod
    def _check(image: np.ndarray, person_boxes: np.ndarray, head_keypoints: list | None) -> np.ndarray:
        boxes = checked_boxes(image, person_boxes, "person_boxes")
        if head_keypoints is not None and len(head_keypoints) != len(boxes):
            raise ValueError(f"head_keypoints has {len(head_keypoints)} entries for {len(boxes)} person boxes")
        return boxes

    def _detect(self, image: np.ndarray, boxes: np.ndarray, keypoints: list, faces: list, searching: list[int]) -> None:
        """MTCNN once, on the union of the searching people's boxes; its faces matched to them in ``faces``."""
        height, width = image.shape[:2]
        region = boxes[searching]
        x0, y0 = (int(max(np.floor(v), 0)) for v in region[:, :2].min(axis=0))
        x1 = int(min(np.ceil(region[:, 2].max()), width))
        y1 = int(min(np.ceil(region[:, 3].max()), height))
        if min(x1 - x0, y1 - y0) < self.config.min_face_size:
            return
        found = self.detector(image[y0:y1, x0:x1])
        if len(found) == 0:
            return
        face_boxes = found.boxes + np.array([x0, y0, x0, y0], dtype=np.float32)
        # Faces already placed from someone's keypoints are theirs, not unmatched.
        placed = [face[0] for face in faces if face is not None]
        centres = (face_boxes[:, :2] + face_boxes[:, 2:]) / 2
        known = np.array([any(b[0] <= c[0] <= b[2] and b[1] <= c[1] <= b[3] for b in placed) for c in centres], bool)
        candidates = np.flatnonzero(~known)
        threshold = self.config.keypoint_threshold
        anchors = np.array([head_anchor(boxes[i], keypoints[i], threshold) for i in searching]).reshape(-1, 2)
        owners = assign_faces(face_boxes[candidates], boxes[searching], anchors)
        for face, owner in zip(candidates, owners):
            if owner < 0:
                self.dropped_faces += 1
            else:
                faces[searching[owner]] = (face_boxes[face], float(found.scores[face]), "detector")

    batched_crops: bool | None = None
    """Whether the faces of a frame are cut in one batched op on the stage's device (boxes.grey_face_crops,
    one upload of the frame) rather than by OpenCV one at a time. None: on CUDA only; on the CPU the OpenCV
    path is the faster one (docs/performance.md). Both give the same crops within one grey level."""

    def _classify(self, image: np.ndarray, faces: list) -> list[FaceResult]:
        classifier = self.classifier
        name = classifier.name
        no_face = NO_FACE if self.detector is not None else f"{NO_FACE}: head keypoints not confident, detector off"
        height, width = image.shape[:2]
        results: list[FaceResult] = []
        boxes: list[np.ndarray] = []
        cropped: list[int] = []
        for face in faces:
            if face is None:
                results.append(FaceResult(False, no_face, model=name))
                continue
            box, score, source = face
            box = np.asarray(box)
            side = float(np.max(box[2:] - box[:2]))
            result = FaceResult(False, "", face_box=box.astype(np.float32), face_score=score, source=source, model=name)
            results.append(result)
            if side < self.config.min_face_size:
                result.status = f"face too small: {side:.0f} px (min {self.config.min_face_size:g})"
            elif not square_touches_image(face_crop_square(box, classifier.face_margin), width, height):
                result.status = f"{NO_FACE}: face box outside the image"
            else:
                boxes.append(box)
                cropped.append(len(results) - 1)
        if boxes:
            for index, probabilities in zip(cropped, classifier.predict(self._crops(image, boxes))):
                result = results[index]
                result.valid, result.probabilities = True, probabilities
                result.status = f"ok: {FACE_EXPRESSIONS[int(np.argmax(probabilities))]}"
        return results

    def _crops(self, image: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
        """(K, S, S) uint8 grey crops of the face boxes (each touching the image) at the network's input size.

        The batched path uploads the frame once and cuts every face there; its crops come back to the host
        (K x S x S bytes) because the classifier takes host arrays.
        """
        margin, size = self.classifier.face_margin, self.classifier.input_size
        on_device = self.device.type == "cuda" if self.batched_crops is None else self.batched_crops
        if not on_device:
            return np.stack([grey_face_crop(image, box, margin, size) for box in boxes])
        squares = np.stack([face_crop_square(box, margin) for box in boxes])
        with torch.inference_mode():
            frame = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
            return grey_face_crops(frame, torch.from_numpy(squares).to(self.device), size).cpu().numpy()
