#!/bin/sh
# emoji-ld2 (64 px, four art styles): training stages, snapshots into the committed model folder
# models/emoji-ld2/, and resuming from that folder in a fresh checkout. See models/recipe/README.md.
#   models/recipe/run2.sh data vae unet          # stages (finished ones are skipped, interrupted ones resume)
#   models/recipe/run2.sh snapshot [--commit]    # export the latest checkpoints to models/emoji-ld2 (+ git commit)
#   models/recipe/run2.sh resume                 # fresh checkout: rebuild the data, import the snapshot, train on
set -e
cd "$(dirname "$0")"
[ -d node_modules/fluentui-emoji ] && [ -d node_modules/@lobehub/fluent-emoji-3d ] || npm ci --no-audit --no-fund
export THREADS="${THREADS:-1}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$THREADS}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-$THREADS}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
WIP="${RECIPE_OUT:-../emoji-ld2}"
case "$1" in
  snapshot)
    /usr/bin/python3 train2.py export check samples
    if [ "$2" = "--commit" ]; then
      step=$(/usr/bin/python3 -c "import json;print(json.load(open('$WIP/unet/config.json'))['trained_steps'])")
      cd "$WIP"
      for i in 1 2 3 4 5 6 7 8 9 10; do [ -e "$(git rev-parse --git-dir)/index.lock" ] && sleep 3; done
      git add -A .
      git commit -q -m "emoji-ld2 at UNet step $step" -- . && git log --oneline -1
    fi ;;
  resume)
    shift
    [ -f .work/ld2/data.done ] || /usr/bin/python3 train2.py data
    /usr/bin/python3 train2.py import
    exec /usr/bin/python3 train2.py unet "$@" ;;
  *)
    [ $# -eq 0 ] && set -- all
    exec /usr/bin/python3 train2.py "$@" ;;
esac
