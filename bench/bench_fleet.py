"""Fleet-run speed-up: the same set of recordings through `bag process` with --jobs 1, --jobs 2 and a local Ray
cluster (--ray), each a fresh output folder, in one run (docs/fleet.md has the table).

The set: the bundled sample bag, replays of the sample scene with other seeds (`bag make-sample`, shorter), and,
with --video and a person detector (``--set detector.weights=FILE``), a piece of real footage as a bag
(`bag from-video`). Wall times are of the whole command, process starts and (Ray) the local cluster's start
included, since that is what a user waits for. Run it on an otherwise idle machine and say when it was not.

    .venv/bin/python bench/bench_fleet.py --work /tmp/fleet_bench [--replays 5] [--ray] [--video FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "emotion_perception.cli"]


def _cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *arguments], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(arguments[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def build_set(work: Path, sample: bool, replays: int, seconds: float, video: Path | None, video_frames: int) -> list[Path]:
    """The recordings, written once into ``work``/recordings (reused by later runs)."""
    from emotion_perception.runtime.paths import share_dir

    folder = work / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    recordings = [share_dir() / "data" / "sample_walk"] if sample else []
    for seed in range(1, replays + 1):
        bag = folder / f"replay_seed{seed}"
        if not bag.exists():
            _cli("bag", "make-sample", str(bag), "--seed", str(seed), "--seconds", str(seconds), "--photo-seconds", "0",
                 cwd=work)
        recordings.append(bag)
    if video is not None:
        bag = folder / f"{video.stem}_{video_frames}"
        if not bag.exists():
            _cli("bag", "from-video", str(video), "-o", str(bag), "--max-frames", str(video_frames), "--no-progress",
                 cwd=work)
        recordings.append(bag)
    return recordings


def run(work: Path, label: str, listing: Path, options: list[str], sets: list[str]) -> dict:
    out = work / f"out_{label}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([*CLI, "bag", "process", str(listing), "-o", str(out), "--no-progress", *options,
                           *(["--set", *sets] if sets else [])], cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - started
    report = json.loads((out / "fleet.json").read_text()) if (out / "fleet.json").is_file() else {}
    result = {"label": label, "options": options, "exit": done.returncode, "wall_s": round(wall, 2),
              "processed": report.get("run", {}).get("processed"), "failed": report.get("run", {}).get("failed"),
              "frames": (report.get("overall") or {}).get("counts", {}).get("processed_frames"),
              "worker_fps": (report.get("overall") or {}).get("frames_per_second")}
    if done.returncode not in (0, 1):
        result["stderr"] = done.stderr[-1500:]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="working folder (recordings are kept for re-runs)")
    parser.add_argument("--no-sample", action="store_true", help="leave out the bundled sample (180 frames)")
    parser.add_argument("--replays", type=int, default=5, help="replays of the sample scene with seeds 1..N")
    parser.add_argument("--seconds", type=float, default=2.0, help="walking seconds of each replay")
    parser.add_argument("--video", type=Path, help="real footage to add as a bag (needs a person detector)")
    parser.add_argument("--video-frames", type=int, default=60, help="frames of the footage")
    parser.add_argument("--ray", action="store_true", help="also a local Ray cluster (--ray)")
    parser.add_argument("--set", nargs="*", default=[], help="settings for every run, e.g. detector.weights=FILE")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    recordings = build_set(work, not args.no_sample, args.replays, args.seconds, args.video, args.video_frames)
    listing = work / "recordings.txt"
    listing.write_text("".join(f"{path}\n" for path in recordings))
    load = os.getloadavg()[0]
    runs = [("jobs1", ["--jobs", "1"]), ("jobs2", ["--jobs", "2"])] + ([("ray", ["--ray"])] if args.ray else [])
    results = [run(work, label, listing, options, args.set) for label, options in runs]
    base = results[0]["wall_s"]
    print(f"{len(recordings)} recordings, {os.cpu_count()} CPUs, load average before: {load:.1f}")
    print("| run | wall [s] | speed-up over --jobs 1 | processed | failed | frames | frames/s per worker |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        result["speedup"] = round(base / result["wall_s"], 2)
        print(f"| {' '.join(result['options'])} | {result['wall_s']:.1f} | {result['speedup']:.2f} | "
              f"{result['processed']} | {result['failed']} | {result['frames']} | {result['worker_fps']} |")
        if "stderr" in result:
            print(result["stderr"], file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps({"recordings": [str(p) for p in recordings], "runs": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
