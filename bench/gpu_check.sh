#!/usr/bin/env bash
# One run on a GPU machine that proves the CUDA paths and measures everything (docs/performance.md):
#   1. the tests with CUDA cases (every test file that mentions cuda; they run on the GPU when one is present),
#   2. bench/bench_pipeline.py: the whole pipeline, strict fp32; the issue's configuration (fp16 detector at
#      the camera's native 480 px, strict fp32 cues); fp16 everywhere (10 people),
#   3. bench_gait.py latency, bench_context.py, bench_face.py, bench_detector.py (Keypoint R-CNN, fp32 and fp16),
#      bench_movenet.py (the default detector by input size, strict fp32), bench_lifter.py cost,
# then prints one summary table with the device's name. Logs and JSON go to OUT_DIR.
#
# Usage: bench/gpu_check.sh OUT_DIR [--quick] [--all-tests] [--device DEVICE]
#   --quick      smoke test with the smallest settings, on the CPU unless --device says otherwise
#                (only test/runtime/test_gpu_paths.py then: the other test files are other engineers' to run)
#   --all-tests  the whole test suite instead of the files with CUDA cases
# Needs the virtualenv of scripts/setup.sh (weights fetched). The steps' time limits add up to under 10 minutes.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${VENV:-$repo/.venv}/bin/python"
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
fi
out="$(mkdir -p "$1" && cd "$1" && pwd)"
shift
quick=0
all_tests=0
device=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --all-tests) all_tests=1 ;;
    --device) device="$2"; shift ;;
    *) echo "gpu_check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$device" ]; then
  if [ "$quick" = 1 ]; then device=cpu; else device=cuda; fi
fi
if [ ! -x "$python" ]; then
  echo "gpu_check: no virtualenv at ${VENV:-$repo/.venv}; run scripts/setup.sh first" >&2
  exit 2
fi
cd "$repo"
: > "$out/steps.tsv"

# step NAME TIMEOUT_S COMMAND...: runs the command with its output in OUT_DIR/NAME.log (shown as it goes),
# and records name, exit status and seconds for the summary.
step() {
  local name="$1" limit=$(($2 * limit_scale))
  shift 2
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  local status=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" >> "$out/steps.tsv"
}

"$python" - > "$out/environment.txt" 2>&1 <<'EOF'
import platform, torch, torchvision
print(f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}")
if torch.cuda.is_available():
    props = torch.cuda.get_device_properties(0)
    print(f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}, {props.total_memory / 2**30:.0f} GiB, "
          f"capability {props.major}.{props.minor}")
else:
    print("no CUDA device")
EOF
cat "$out/environment.txt"
if [[ "$device" == cuda* ]] && ! grep -q "^CUDA" "$out/environment.txt"; then
  echo "gpu_check: --device $device but torch sees no CUDA device" >&2
  exit 2
fi

# Time limits (s) of the steps add up to under 10 minutes on a GPU; the pipeline benches stop starting runs 30 s
# before theirs (--budget-s). The quick smoke test runs on the CPU: no budgets, limits six times longer.
if [ "$quick" = 1 ]; then
  limit_scale=6
  budget() { :; }
  tests=(test/runtime/test_gpu_paths.py)
  pipeline_args=(--quick --threads 1)  # one thread: this machine may be shared, and oversubscribed torch collapses
  gait_args=(--repeats 2 --tracks 1 2 --models stgcn)
  context_args=(--frames 2 --people 1 2)
  face_args=(--repeats 2 --faces 1 2 --threads 1)
  detector_args=(--frames 1 --warmup 0 --threads 1)
  movenet_args=(--frames 2 --sizes 256 --threads 1)
  lifter_args=(--repeats 5)
else
  limit_scale=1
  budget() { echo "--budget-s $1"; }
  if [ "$all_tests" = 1 ]; then tests=(); else mapfile -t tests < <(grep -il cuda test/test_*.py); fi
  pipeline_args=(--frames 100)
  gait_args=(--repeats 20)
  context_args=(--frames 30)
  face_args=(--repeats 30)
  detector_args=(--frames 20 --warmup 3)
  movenet_args=(--frames 20 --sizes 256 512 768)
  lifter_args=(--repeats 200)
fi

step tests 120 scripts/test.sh -q "${tests[@]}"
step pipeline_fp32 150 "$python" bench/bench_pipeline.py --device "$device" --precision fp32 $(budget 120) \
  "${pipeline_args[@]}" --json "$out/pipeline_fp32.json"
step pipeline_fp16_detector 80 "$python" bench/bench_pipeline.py --device "$device" --precision fp16_detector \
  --detector-min-size 480 --sources detector --no-per-person $(budget 50) \
  "${pipeline_args[@]}" --json "$out/pipeline_fp16_detector.json"
fp16_people=(--people 10)
if [ "$quick" = 1 ]; then fp16_people=(); fi
step pipeline_fp16 55 "$python" bench/bench_pipeline.py --device "$device" --precision fp16 --sources detector \
  --no-per-person $(budget 25) "${pipeline_args[@]}" "${fp16_people[@]}" --json "$out/pipeline_fp16.json"
step gait 40 "$python" bench/bench_gait.py latency --device "$device" "${gait_args[@]}"
step context 25 "$python" bench/bench_context.py --device "$device" "${context_args[@]}"
step face 35 "$python" bench/bench_face.py --device "$device" "${face_args[@]}"
step detector_fp32 25 "$python" bench/bench_detector.py --device "$device" --precision fp32 "${detector_args[@]}"
step detector_fp16 20 "$python" bench/bench_detector.py --device "$device" --precision fp16 "${detector_args[@]}"
step movenet_fp32 30 "$python" bench/bench_movenet.py --device "$device" --precision fp32 "${movenet_args[@]}"
step lifter 15 "$python" bench/bench_lifter.py cost --device "$device" "${lifter_args[@]}"

"$python" - "$out" <<'EOF' | tee "$out/summary.md"
"""The summary: every step's status, and the pipeline's numbers against the issue's targets."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
P50_TARGET_MS, P99_TARGET_MS, PEOPLE_RATIO_TARGET = 16.0, 25.0, 1.5
environment = (out / "environment.txt").read_text().strip().splitlines()
print(f"\n# gpu_check summary: {environment[-1]}\n\n{environment[0]}\n")
print("| step | status | seconds | result |\n|---|---|---|---|")
failed = False
for line in (out / "steps.tsv").read_text().splitlines():
    name, status, seconds = line.split("\t")
    log = (out / f"{name}.log").read_text(errors="replace").strip().splitlines()
    result = log[-1] if name == "tests" and log else ""
    verdict = "ok" if status == "0" else ("timed out" if status == "124" else f"FAILED ({status})")
    failed |= status != "0"
    print(f"| {name} | {verdict} | {seconds} | {result} |")

for path in sorted(out.glob("pipeline_*.json")):
    data = json.loads(path.read_text())
    runs = data["runs"]
    print(f"\n## {path.stem}: precision {data['precision']} (detector {data['detector_precision']}), networks "
          f"{data['accelerate']}, detector min_size {data['detector_min_size']}, {data['frames']} frames per run\n")
    print("| source | people | mode | interval | fps | end to end p50 / p99 ms | p50 <= 16 / p99 <= 25 ms |"
          "\n|---|---|---|---|---|---|---|")
    for run in runs:
        spec = run["spec"]
        if spec["people"] != max(r["spec"]["people"] for r in runs if r["spec"]["source"] == spec["source"]):
            continue
        p50, _, p99 = run["stages_ms"]["total"]
        met = f"{'yes' if p50 <= P50_TARGET_MS else 'no'} / {'yes' if p99 <= P99_TARGET_MS else 'no'}"
        print(f"| {spec['source']} | {spec['people']} | {spec['mode']} | {spec['interval']} | {run['fps']:.1f} | "
              f"{p50:.1f} / {p99:.1f} | {met} |")
    ratios = []
    for source in dict.fromkeys(run["spec"]["source"] for run in runs):
        batched = {run["spec"]["people"]: run for run in runs if run["spec"]["source"] == source
                   and run["spec"]["mode"] == "batched" and run["spec"]["interval"] == "0"}
        if 1 in batched and len(batched) > 1:
            most = batched[max(batched)]
            for stage, values in most["stages_ms"].items():
                if stage in ("gait", "context", "face", "gesture") and stage in batched[1]["stages_ms"]:
                    ratios.append(f"{source} {stage} {values[0] / batched[1]['stages_ms'][stage][0]:.2f}")
    if ratios:
        print(f"\nCue stage p50, most people / 1 person (target <= {PEOPLE_RATIO_TARGET}): {', '.join(ratios)}")
print("\nLogs, tables and JSON:", out)
sys.exit(1 if failed else 0)
EOF
