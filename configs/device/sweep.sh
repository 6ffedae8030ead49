# Several CANDLE runs on a multi-GPU machine, all finished within DEADLINE seconds of the start:
#   bash configs/device/sweep.sh PLAN DEADLINE
# PLAN holds one run per line (blank lines and # comments skipped):
#   GPU NAME CONFIG EPOCHS METHODS [more candle-hw train flags]
# e.g. `2 w2_lt100 configs/cifar10_lt100.yaml 300 candle,candle_lt --student cnv_w1a1_x2 --compile`.
# Each line runs in the background on its GPU: the teacher stage, then its methods as parallel processes
# (lines sharing a GPU share it), then the run's summary. Every student stops cleanly (checkpoint + metrics,
# epochs_done says so) if the deadline comes first. Results: $OUT/sweep_results.tgz (metrics, plots, logs) and
# $OUT/sweep_students.tgz (the deployable student.pt of every method, signs only: compresses ~20x).
source configs/device/env.sh > /dev/null || exit 1
PLAN=$1; DEADLINE=$2; T0=$(date +%s); R=/tmp/runs
left() { python -c "import time; print(round(max(0.5, ($DEADLINE - 50 - (time.time() - $T0)) / 60), 2))"; }
python -c "from candle_hw.training.data import load_cifar10; load_cifar10()"  # decode once, before forks
nvidia-smi -L
while read -r GPU NAME CFG EPOCHS METHODS EXTRA; do
  case "$GPU" in ''|\#*) continue;; esac
  N=$(echo "$METHODS" | tr ',' '\n' | wc -l)
  C="--config $CFG --name $NAME --out $R --epochs $EPOCHS --methods $METHODS --no-progress $EXTRA"
  (export CUDA_VISIBLE_DEVICES=$GPU
   python -m candle_hw.cli train $C --stage teacher > $OUT/$NAME.log 2>&1 &&
   python -m candle_hw.cli train $C --stage students --jobs $N --no-summary --max-minutes $(left) >> $OUT/$NAME.log 2>&1
   python -m candle_hw.cli train $C --stage summary --device cpu >> $OUT/$NAME.log 2>&1
   echo "== $NAME (GPU $GPU) done at $(( $(date +%s) - T0 )) s"; tail -12 $OUT/$NAME.log) &
done < "$PLAN"
wait
echo "wall $(( $(date +%s) - T0 )) s"
mkdir -p /tmp/logs && mv $OUT/*.log /tmp/logs/ 2>/dev/null
tar czf $OUT/sweep_results.tgz --exclude='*.pt' -C $R . -C /tmp logs
(cd $R && tar czf $OUT/sweep_students.tgz $(find . -name student.pt))
ls -la $OUT
