# Source on a device machine (repo root, .gpu carried): offline wheels, the candle_hw import mapping, caches.
# Sourcing it again (a second script in the same call, or a warm machine) reinstalls only if the wheels changed.
WHEELS=$(ls .gpu/whl)
if [ "$(cat .site/.wheels 2>/dev/null)" != "$WHEELS" ]; then
  python -m pip install -q --no-index --no-deps --upgrade --target .site .gpu/whl/*.whl || return 1
  echo "$WHEELS" > .site/.wheels
fi
python training/devlaunch.py . || return 1  # links candle_hw/training etc. in this device copy
export PYTHONPATH=$PWD:$PWD/.site
export CANDLE_HW_CACHE=/tmp/candle_hw_cache CANDLE_HW_CIFAR10=$PWD/.gpu/data/cifar10_jpg.tar.gz
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
