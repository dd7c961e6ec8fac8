#!/usr/bin/env bash
# Wheels for the GPU machine, which has no network (docs/benchmarks.md, "GPU"):
#
#   benchmarks/gpu_wheels.sh          benchmarks/gpu-wheels/: benchmarks/gpu-requirements.txt
#   benchmarks/gpu_wheels.sh --ort    benchmarks/gpu-ort/N/: onnxruntime-gpu in parts
#
# Every wheel is cp312 manylinux x86_64 (the machine's python3 is 3.12). A device call carries
# at most 64 MiB with the working tree, and onnxruntime-gpu is about 244 MiB, so it is cut into
# parts of PART_MIB, one per call; benchmarks/gpu_check.sh joins them and checks the SHA-256.
# Prints the device calls that carry them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
py=${PYTHON:-$root/.venv/bin/python}
ort_gpu=${ORT_GPU:-onnxruntime-gpu==1.31.1} # built for CUDA 13, as the image's torch (cu130)
part_mib=${PART_MIB:-58}
limit_mib=64
platforms=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64
  manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64)
download() {
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]/#/--platform=}" "$@"
}
mib() { du -sb "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }
tree_mib=$(git ls-files -z | xargs -0 du -cb | tail -n 1 | awk '{printf "%.1f", $1 / 1048576}')

if [[ ${1:-} == --ort ]]; then
  dir=benchmarks/gpu-ort
  rm -rf "$dir" && mkdir -p "$dir/download"
  download -d "$dir/download" "$ort_gpu"
  wheel=$(basename "$(compgen -G "$dir/download/*.whl")")
  sha=$(sha256sum "$dir/download/$wheel" | cut -d' ' -f1)
  (cd "$dir/download" && split -b "${part_mib}M" -d -a 1 "$wheel" "$wheel.part")
  count=$(compgen -G "$dir/download/$wheel.part*" | wc -l)
  for part in "$dir/download/$wheel".part*; do
    n=$((${part##*.part} + 1))
    mkdir -p "$dir/$n"
    mv "$part" "$dir/$n/"
    echo "$wheel $sha $count" >"$dir/$n/MANIFEST"
  done
  rm -rf "$dir/download"
  echo "onnxruntime-gpu: $wheel, $(mib "$dir") MiB in $count parts (sha256 $sha)"
  echo "the working tree sends ${tree_mib} MiB with every call; a call carries 64 MiB at most"
  echo "device calls, back to back (each within the 30 s the machine stays warm):"
  for n in $(seq 1 $((count - 1))); do
    echo "  run(command='ls -la benchmarks/gpu-ort/*', carry=['benchmarks/gpu-ort/$n'], timeout_s=60)  # $(mib "$dir/$n") MiB"
  done
  echo "  then the check itself, carrying benchmarks/gpu-ort/$count (see make gpu-wheels)"
  last=$(awk -v a="$(mib "$dir/$count")" -v b="$tree_mib" 'BEGIN {print a + b}')
  echo "  part $count: $(mib "$dir/$count") MiB; with the tree ${last} MiB, plus the wheels"
  exit 0
fi

dir=benchmarks/gpu-wheels
rm -rf "$dir" && mkdir -p "$dir"
download -d "$dir" -r benchmarks/gpu-requirements.txt
echo "$(compgen -G "$dir/*.whl" | wc -l) wheels, $(mib "$dir") MiB in $dir"
carry="'$dir'"
sent=$(awk -v a="$(mib "$dir")" -v b="$tree_mib" 'BEGIN {print a + b}')
if [[ -f benchmarks/gpu-ort/1/MANIFEST ]]; then
  read -r _ _ count <benchmarks/gpu-ort/1/MANIFEST
  carry+=", 'benchmarks/gpu-ort/$count'"
  sent=$(awk -v a="$sent" -v b="$(mib "benchmarks/gpu-ort/$count")" 'BEGIN {print a + b}')
fi
if awk -v s="$sent" -v l="$limit_mib" 'BEGIN {exit !(s > l)}'; then
  echo "TOO LARGE: the check's call would send $sent MiB (limit $limit_mib)" >&2
  exit 1
fi
echo "the check's device call ($sent MiB with the working tree):"
echo "  run(command='bash benchmarks/gpu_check.sh', carry=[$carry], timeout_s=540)"
