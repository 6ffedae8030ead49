# The training half of a co-design search on a GPU machine without the compiler (qonnx), within one call:
#   bash configs/device/codesign.sh CONFIG MINUTES [N_WORKERS]
# Every candidate fits its schedule to what is left of MINUTES when it starts (teacher stages first) and stops
# cleanly at the end. Brings back $OUT/codesign_train.tgz: the search folder without teacher targets and
# resume checkpoints (run.json, candidates/*/candidate.json, the deployable student.pt and metrics of each;
# a wide student's student.pt is over 20 MB raw, 1.5 MB compressed).
# Here, unpack it into the same --out and run `candle-hw codesign --config CONFIG --out DIR`: it reuses the
# trained candidates (same hashes) and exports, compiles, folds and synthesises them. A candidate that did not
# finish is listed as unfinished; a later call would start it again (its checkpoint does not travel).
source configs/device/env.sh > /dev/null || exit 1
CFG=$1; MIN=$2; NW=${3:-5}; D=/tmp/codesign; T0=$(date +%s)
python -c "from candle_hw.training.data import load_cifar10; load_cifar10()"  # decode once, before the workers
nvidia-smi -L
python -m candle_hw.training.codesign.cli --config $CFG --out $D --stage train --minutes $MIN --n-workers $NW \
  > $OUT/codesign.log 2>&1
echo "codesign exit $? after $(( $(date +%s) - T0 )) s"
tail -12 $OUT/codesign.log
# every student.pt whatever its size (signs only: ~17x smaller compressed; a wide student is over 20 MB raw),
# nothing that only resumes or re-derives (checkpoint.pt, teacher targets)
(cd $D && find . \( -name 'checkpoint.pt' -o -name 'targets_*' \) -prune -o \( -type f \( -name student.pt -o \
   -size -8M \) -print \) -o -type l -print | tar czf $OUT/codesign_train.tgz -T -)
ls -la $OUT
