"""Constant-velocity Kalman filter on a box (centre x, centre y, width, height) in pixels.

Velocities are in pixels per nominal frame; a prediction over ``steps`` nominal frames (fractional
when frames arrive late or are dropped) scales the motion and the process noise. Noise standard
deviations are proportional to the box height, as in SORT/ByteTrack, so the filter behaves the same for
near and far people.

The box's size is the part of the state that no motion explains for long: a person does not shrink while
hidden, yet a size velocity estimated as they walked into an occlusion (their box shrinking to the
visible part) would keep integrating. So a track without measurements holds its size (:meth:`hold_size`),
and every prediction keeps width and height within ``MAX_SIZE_CHANGE`` of the last measured box's.
"""

from __future__ import annotations

import numpy as np

MAX_SIZE_CHANGE = 2.0
"""A predicted width or height stays within this factor of the last measured one."""


def xyxy_to_cxcywh(box: np.ndarray) -> np.ndarray:
    x_min, y_min, x_max, y_max = np.asarray(box, dtype=np.float64)
    return np.array([(x_min + x_max) / 2, (y_min + y_max) / 2, x_max - x_min, y_max - y_min])


def cxcywh_to_xyxy(state: np.ndarray) -> np.ndarray:
    cx, cy, w, h = state[:4]
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)


class BoxKalmanFilter:
    """State (cx, cy, w, h, vcx, vcy, vw, vh) with its covariance; one filter per track."""

    def __init__(self, box_xyxy: np.ndarray, position_noise: float, velocity_noise: float) -> None:
        self.position_noise = position_noise
        self.velocity_noise = velocity_noise
        measurement = xyxy_to_cxcywh(box_xyxy)
        self.mean = np.concatenate([measurement, np.zeros(4)])
        self._bound_size(measurement[2:4])
        height = max(measurement[3], 1.0)
        std = np.concatenate([np.full(4, 2 * position_noise * height), np.full(4, 10 * velocity_noise * height)])
        self.covariance = np.diag(std ** 2)

    @property
    def box(self) -> np.ndarray:
        """Current (x_min, y_min, x_max, y_max) estimate, float32 pixels."""
        return cxcywh_to_xyxy(self.mean)

    def predict(self, steps: float) -> None:
        transition = np.eye(8)
        transition[:4, 4:] = steps * np.eye(4)
        height = max(self.mean[3], 1.0)
        std = np.concatenate([np.full(4, self.position_noise * height), np.full(4, self.velocity_noise * height)])
        self.mean = transition @ self.mean
        self.mean[2:4] = np.minimum(np.maximum(self.mean[2:4], self._min_size), self._max_size)
        self.covariance = transition @ self.covariance @ transition.T + np.diag(std ** 2) * max(steps, 0.0)

    def update(self, box_xyxy: np.ndarray) -> None:
        measurement = xyxy_to_cxcywh(box_xyxy)
        height = max(self.mean[3], 1.0)
        noise = np.diag(np.full(4, (self.position_noise * height) ** 2))
        projected_cov = self.covariance[:4, :4] + noise
        gain = np.linalg.solve(projected_cov, self.covariance[:4, :]).T
        self.mean = self.mean + gain @ (measurement - self.mean[:4])
        self.covariance = self.covariance - gain @ self.covariance[:4, :]
        self._bound_size(measurement[2:4])

    def _bound_size(self, measured_size: np.ndarray) -> None:
        """Predictions keep width and height within ``MAX_SIZE_CHANGE`` of ``measured_size`` (and >= 1 px)."""
        self._min_size = np.maximum(measured_size / MAX_SIZE_CHANGE, 1.0)
        self._max_size = np.maximum(measured_size * MAX_SIZE_CHANGE, 1.0)

    def hold_size(self) -> None:
        """Keep the current width and height through the coming predictions (until the next update)."""
        self.mean[6:8] = 0.0
