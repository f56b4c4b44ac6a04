"""pip install of the ROS-agnostic library and the `emotion-perception` CLI (no messages, no node).

In a ROS 2 workspace, colcon builds the package with CMakeLists.txt instead (messages + node); this file is
for using the core (training, evaluation, offline tools) in a plain Python environment.
"""

from setuptools import find_packages, setup

setup(
    name="emotion_perception",
    version="0.1.0",
    description="How the people around a robot feel: gait and context emotion from camera images (ROS-agnostic core)",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["emotion_perception", "emotion_perception.*"]),
    install_requires=[
        "numpy>=1.26", "scipy>=1.11", "opencv-python-headless>=4.8,<5", "torch>=2.1", "torchvision>=0.16",
        "h5py>=3.9", "PyYAML>=6", "tqdm>=4.66", "matplotlib>=3.8",
    ],
    extras_require={"bags": ["rosbags>=0.11"], "fleet": ["ray>=2.9"],
                    "test": ["pytest>=8", "scikit-learn>=1.4", "ray>=2.9"]},
    entry_points={"console_scripts": ["emotion-perception = emotion_perception.cli:main"]},
)
