#!/usr/bin/env bash
# Regenerate every measured number in docs/: the exposure fit, the three evaluation tables with
# their contact sheets (scores also stored in the weight records), the model
# cards, and the speed/memory table.
#   bash scripts/tools/measure_all.sh [DATA_DIR]   (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/data}
PY=${PYTHON:-.venv/bin/python}
CLI=${CLI:-.venv/bin/napari-lowlight}
mkdir -p docs/results
# The auto-exposure fit, written into src/napari_lowlight/normalize_fits.json, and its held-out error.
$PY scripts/fits/fit_exposure.py "$DATA" | tee docs/results/exposure.md
# The auto-tone fit, written into the same file, and its held-out error.
$PY scripts/fits/fit_tone.py "$DATA" | tee docs/results/tone.md
$CLI evaluate --suite fluo --data "$DATA" --contact-sheet docs/results/fluo.png --record | tee docs/results/fluo.md
# Every FMD noise level (held-out fields 17-18), the new and the W2S-only fluo, and the gallery.
$CLI evaluate --suite fmd --data "$DATA" --models fluo-w2s,fluo --record | tee docs/results/fluo-fmd-table.md
$PY scripts/tools/fluo_levels_gallery.py --data "$DATA"
for suite in photo photo-gamma; do
  # Centre 256 px crops of Kodak24: colour BM3D takes about a minute per whole image here.
  $CLI evaluate --suite $suite --data "$DATA" --crop 256 --contact-sheet docs/results/$suite.png --record \
    | tee docs/results/$suite.md
done
# What a perfect exposure estimate would give the photo network (an oracle over 25 gains).
$PY scripts/studies/exposure_oracle.py "$DATA" | tee docs/results/exposure-oracle.md
$PY scripts/tools/model_cards.py
$PY benchmarks/speed.py | tee docs/results/speed.md
