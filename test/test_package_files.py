"""The ROS package's files agree with what the code installs, declares and imports."""

from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from emotion_perception.settings import Settings, render_params_yaml

REPO = Path(__file__).resolve().parent.parent
LAUNCH = REPO / "launch" / "emotion_perception.launch.py"

# Python top-level module -> the rosdep key (or ROS package) that provides it.
ROSDEP_KEY = {
    "numpy": "python3-numpy", "scipy": "python3-scipy", "cv2": "python3-opencv", "torch": "python3-torch",
    "torchvision": "python3-torchvision", "h5py": "python3-h5py", "yaml": "python3-yaml", "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib", "rosbags": "python3-rosbags-pip", "rclpy": "rclpy",
    "rcl_interfaces": "rcl_interfaces", "builtin_interfaces": "builtin_interfaces", "std_msgs": "std_msgs",
    "geometry_msgs": "geometry_msgs", "sensor_msgs": "sensor_msgs", "diagnostic_msgs": "diagnostic_msgs",
    "rosgraph_msgs": "rosgraph_msgs", "message_filters": "message_filters", "cv_bridge": "cv_bridge",
    "ament_index_python": "ament_index_python", "launch": "launch", "launch_ros": "launch_ros",
    "visualization_msgs": "visualization_msgs", "lifecycle_msgs": "lifecycle_msgs", "PIL": "python3-pil",
    "skimage": "python3-skimage", "tf2_msgs": "tf2_msgs",
}
OPTIONAL = {"onnx", "onnxruntime", "onnxscript", "torch_tensorrt", "hri_msgs", "motmetrics", "ray"}
"""Imported only by optional tools (ONNX export, TensorRT, the detector backend 'onnx' and MoveNet's CPU runtime,
MOT scores of real footage, fleet runs on Ray), which name the pip command when missing (or fall back), and by
output.hri, which names the apt package when hri_msgs is missing (not released for every distro)."""


def package_xml_dependencies() -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    return {e.text for e in root if e.tag in ("depend", "exec_depend", "build_depend", "buildtool_depend")}


def imported_modules(paths: list[Path]) -> set[str]:
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"emotion_perception", "__future__"}


def test_package_xml_lists_every_runtime_dependency_the_code_imports():
    sources = sorted((REPO / "emotion_perception").rglob("*.py")) + [LAUNCH]
    modules = imported_modules(sources) - OPTIONAL
    unknown = modules - set(ROSDEP_KEY)
    assert not unknown, f"imports without a known rosdep key (add them to package.xml and this table): {unknown}"
    missing = {ROSDEP_KEY[m] for m in modules} - package_xml_dependencies()
    assert not missing, f"package.xml lacks {sorted(missing)}"


def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text())


def test_launch_file_runs_the_installed_node_with_the_installed_config():
    tree = launch_tree()
    node_call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "LifecycleNode")
    keywords = {k.arg: k.value for k in node_call.keywords}
    assert ast.literal_eval(keywords["package"]) == "emotion_perception"
    executable = ast.literal_eval(keywords["executable"])
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert re.search(rf"install_python_entry_point\({executable} \S+ lib/\$\{{PROJECT_NAME\}}\)", cmake), \
        f"{executable} is not installed to lib/emotion_perception"
    assert "install(DIRECTORY launch config" in cmake
    config_default = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                          and getattr(n.func, "id", "") == "PathJoinSubstitution")
    parts = [ast.literal_eval(e) for e in config_default.args[0].elts[1:]]
    assert (REPO / Path(*parts)).is_file(), parts


def test_launch_file_sets_only_declared_parameters_and_known_topics():
    tree = launch_tree()
    declared = set(Settings().flat()) | {"use_sim_time", "autostart"}
    parameter_dicts = [n for n in ast.walk(tree) if isinstance(n, ast.Dict)]
    names = {ast.literal_eval(k) for d in parameter_dicts for k in d.keys}
    assert names and names <= declared, names - declared
    constant_tuples = [t for t in ast.walk(tree) if isinstance(t, ast.Tuple) and isinstance(t.elts[0], ast.Constant)]
    arguments = {t.elts[0].value for t in constant_tuples if len(t.elts) == 3}
    used = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "arg"}
    assert used <= arguments, used - arguments
    remapped = {t.elts[0].value for t in constant_tuples if len(t.elts) == 2}
    assert remapped == {"image", "image/compressed", "camera_info", "depth", "skeletons"}
    node_source = (REPO / "emotion_perception" / "ros" / "node.py").read_text()
    for topic in remapped:
        assert f'"{topic}"' in node_source, f"the node does not use topic {topic}"


def test_params_file_documents_every_setting_with_its_default():
    text = (REPO / "config" / "emotion_perception.yaml").read_text()
    assert text == render_params_yaml(), "config/emotion_perception.yaml is stale: emotion-perception config > config/emotion_perception.yaml"
    values = yaml.safe_load(text)["/**"]["ros__parameters"]
    assert Settings.from_nested(values).flat() == Settings().flat()


def test_setup_py_builds_a_wheel_of_the_library_and_cli(tmp_path: Path):
    import subprocess
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(REPO)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("emotion_perception-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "emotion_perception/pipeline.py" in names and "emotion_perception/cues/gait/stage.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "emotion-perception = emotion_perception.cli:main" in entry_points
