#!/usr/bin/env bash
# On the GPU box, from the repository root: unpack the wheels (pure Python, so a wheel is
# just a zip), run the job, keep its log in $OUT. Arguments go to training.gpu.job.
set -euo pipefail
OUT="${OUT:-gpu/out}"
export OUT
mkdir -p "$OUT" /tmp/site
for wheel in gpu/weights/wheels/*.whl; do
    python3 -m zipfile -e "$wheel" /tmp/site
done
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader || true
python3 -u -m training.gpu.job "$@" 2>&1 | tee "$OUT/job.log"
