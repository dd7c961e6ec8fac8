#!/usr/bin/env bash
# Creates one venv per peer server under $BENCH_DIR (outside the repo) and installs wrk.
# Idempotent: a venv whose .stamp exists is kept.
set -euo pipefail
BENCH_DIR=${BENCH_DIR:-${MODELPLANE_CACHE:-$HOME/.cache/modelplane}/bench}
SKLEARN=${SKLEARN_VERSION:?set SKLEARN_VERSION to the scikit-learn of the main venv}
mkdir -p "$BENCH_DIR"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
fi

make_venv() {  # name python packages...
  local name=$1 python=$2; shift 2
  local dir=$BENCH_DIR/$name
  [ -f "$dir/.stamp" ] && return 0
  echo "bench: creating $dir" >&2
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -q "$@"
  touch "$dir/.stamp"
}

# PyTriton's Triton backend links the system libpython: its venv must come from Debian's python3.
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
  apt-get install -y -qq python3-venv python3-dev >/dev/null
fi

make_venv kserve python3 kserve "scikit-learn==$SKLEARN"
make_venv mlserver python3 mlserver mlserver-sklearn "scikit-learn==$SKLEARN" "uvloop<0.22"
make_venv pytriton /usr/bin/python3 nvidia-pytriton "scikit-learn==$SKLEARN"
make_venv tools python3 py-spy
