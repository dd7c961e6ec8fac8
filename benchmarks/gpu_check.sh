#!/usr/bin/env bash
# The GPU check (docs/benchmarks.md, "GPU"): one bounded run on a machine with an NVIDIA GPU.
#
#   benchmarks/gpu_check.sh            on the GPU machine (python3 there holds torch with CUDA)
#   benchmarks/gpu_check.sh --cpu      the same flow on CPU with small sizes (a dry run, here)
#   benchmarks/gpu_check.sh [--cpu] -- ARGS    ARGS go to `python -m benchmarks.gpu`
#
# Steps: install the carried wheels (benchmarks/gpu-wheels, made by `make gpu-wheels`) and, when
# all its parts travelled, onnxruntime-gpu (benchmarks/gpu-ort, `make gpu-wheels-ort`); print the
# GPU, driver and versions; run the CUDA-marked tests; run the benchmark (benchmarks/gpu.py).
# Everything it writes goes under $OUT (default out/gpu-check): gpu_check.log, environment.txt,
# gpu_tests.xml, results.json, results.md, servers.log. The whole run is held to
# GPU_CHECK_SECONDS (default 450 on the GPU, 270 with --cpu); each step gets what is left.
set -uo pipefail

mode=gpu
if [[ ${1:-} == --cpu ]]; then
  mode=cpu
  shift
fi
if [[ ${1:-} == -- ]]; then shift; fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
out=${OUT:-$root/out/gpu-check}
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1

if [[ $mode == gpu ]]; then total=${GPU_CHECK_SECONDS:-450}; else total=${GPU_CHECK_SECONDS:-270}; fi
deadline=$((SECONDS + total))
left() { echo $((deadline - SECONDS)); }
say() { printf '[gpu_check %s, %ss left] %s\n' "$(date -u +%H:%M:%S)" "$(left)" "$*"; }

wheels=benchmarks/gpu-wheels
ort_parts=benchmarks/gpu-ort
if [[ $mode == gpu ]]; then
  py=${PYTHON:-python3}
  site=/tmp/modelplane-site
  if compgen -G "$wheels/*.whl" >/dev/null; then
    say "installing $(compgen -G "$wheels/*.whl" | wc -l) carried wheels into $site"
    timeout 90 "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target "$site" "$wheels"/*.whl || { say "FAILED: wheel install"; exit 2; }
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  else
    say "no wheels in $wheels (make gpu-wheels, carried): the server's packages must be installed"
  fi
  manifest=$(compgen -G "$ort_parts/*/MANIFEST" | head -n 1)
  if [[ -n $manifest ]]; then
    read -r wheel sha count <"$manifest"
    mapfile -t parts < <(compgen -G "$ort_parts/*/$wheel.part*" | sort -V)
    if [[ ${#parts[@]} -eq $count ]]; then
      say "onnxruntime-gpu: all $count parts here; joining and checking $wheel"
      cat "${parts[@]}" >"/tmp/$wheel"
      if echo "$sha  /tmp/$wheel" | sha256sum -c --quiet &&
        timeout 120 "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
          --target /tmp/ort-gpu-site "/tmp/$wheel"; then
        export PYTHONPATH="/tmp/ort-gpu-site:$PYTHONPATH"
      else
        say "onnxruntime-gpu: the joined wheel did not check out or install; ONNX stays on CPU"
      fi
    else
      say "onnxruntime-gpu: ${#parts[@]} of $count parts here (the machine went back between" \
        "the calls that carry them?): ONNX on CUDA will not be measured"
    fi
  else
    say "onnxruntime-gpu: not carried (make gpu-wheels-ort): ONNX on CUDA will not be measured"
  fi
  # onnxruntime-gpu loads cuBLAS, cuDNN and the CUDA runtime by name: those of the image's
  # nvidia-* pip packages (torch's), which are CUDA 13 like the onnxruntime-gpu wheel.
  libs=$("$py" -c 'import glob, os, site
print(":".join(sorted({os.path.dirname(p) for b in site.getsitepackages()
    for p in glob.glob(os.path.join(b, "nvidia", "*", "lib", "lib*.so*"))})))' 2>/dev/null)
  export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  budget_tests=180
else
  py=${PYTHON:-$root/.venv/bin/python}
  [[ -x $py ]] || py=python3
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} # a dry run on a shared machine: one thread each
  budget_tests=90
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

say "environment ($mode mode)"
{
  nvidia-smi || echo "nvidia-smi: not on this machine"
  "$py" - <<'EOF'
import os, platform, sys
print("python", platform.python_version(), sys.executable)
print("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)"))
try:
    import torch
    cuda = torch.cuda.is_available()
    print("torch", torch.__version__, "cuda", torch.version.cuda, "available", cuda,
          "devices", torch.cuda.device_count(),
          "name", torch.cuda.get_device_name(0) if cuda else "-",
          "cudnn", torch.backends.cudnn.version() if cuda else "-")
except Exception as exc:
    print("torch: not usable:", exc)
try:
    import onnxruntime as ort
    print("onnxruntime", ort.__version__, ort.__file__, ort.get_available_providers())
except Exception as exc:
    print("onnxruntime: not usable:", exc)
for name in ("pydantic", "uvicorn", "starlette", "google.protobuf", "grpc", "aiohttp", "numpy"):
    try:
        module = __import__(name, fromlist=["__version__"])
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "MISSING:", exc)
EOF
} 2>&1 | tee "$out/environment.txt"

say "CUDA-marked tests"
limit=$(($(left) - 60))
((limit > budget_tests)) && limit=$budget_tests
((limit < 10)) && limit=10
timeout "$limit" "$py" -m pytest -q -rs -p no:cacheprovider -m gpu --junitxml="$out/gpu_tests.xml" \
  tests/component/model_server/test_gpu_backends.py \
  tests/component/model_server/test_onnx_cuda_options.py
tests_rc=$?
say "CUDA-marked tests: exit $tests_rc"

budget=$(($(left) - 45))
if ((budget < 30)); then
  say "no time left for the benchmark"
  exit 1
fi
say "benchmark, budget ${budget}s"
timeout "$((budget + 35))" "$py" -m benchmarks.gpu --mode "$mode" --out "$out" \
  --budget-s "$budget" "$@"
bench_rc=$?
say "benchmark: exit $bench_rc; files in $out:"
ls -la "$out"
if ((tests_rc != 0)); then exit 1; fi
exit "$bench_rc"
