#!/usr/bin/env bash
# Regenerate every measured number in docs/: the speed/memory table and the
# three evaluation tables with their contact sheets.
#   bash scripts/measure_all.sh [DATA_DIR]   (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
PY=${PYTHON:-.venv/bin/python}
CLI=${CLI:-.venv/bin/napari-lowlight}
mkdir -p docs/results
$CLI evaluate --suite fluo --data "$DATA" --contact-sheet docs/results/fluo.png | tee docs/results/fluo.md
$CLI evaluate --suite photo --data "$DATA" --contact-sheet docs/results/photo.png | tee docs/results/photo.md
$CLI evaluate --suite photo-gamma --data "$DATA" --contact-sheet docs/results/photo-gamma.png | tee docs/results/photo-gamma.md
$PY benchmarks/speed.py | tee docs/results/speed.md
