#!/bin/sh
# Rebuilds models/emoji-ld from scratch: installs the artwork/caption packages, then runs every
# training stage (finished stages are skipped, interrupted ones resume from .work/ checkpoints).
#   models/recipe/run.sh              # all stages
#   models/recipe/run.sh unet export  # selected stages
set -e
cd "$(dirname "$0")"
[ -d node_modules/emoji-datasource-google ] || npm ci --no-audit --no-fund
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-2}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mkdir -p .work
[ $# -eq 0 ] && set -- all
exec /usr/bin/python3 train.py "$@"
