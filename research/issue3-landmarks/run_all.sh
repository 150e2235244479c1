#!/bin/sh
# Reproduce every figure (about 2-3 hours on 2 shared cores); results/<step>.json and results/<step>.log.
cd "$(dirname "$0")"
PY=/work/main/.venv/bin/python
for step in ${@:-calibrate detect fp chromaprint timing memory hashes faiss scale}; do
  OMP_NUM_THREADS=1 nice -n 19 $PY measure.py $step > results/$step.log 2>&1 || echo "$step failed" >> results/failed.log
done
