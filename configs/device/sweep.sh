# Several CANDLE runs on a multi-GPU machine, all finished within DEADLINE seconds of the start:
#   bash configs/device/sweep.sh PLAN DEADLINE
# PLAN holds one line per (run, GPU) (blank lines and # comments skipped):
#   GPU NAME CONFIG EPOCHS METHODS [more candle-hw train flags]
# (EPOCHS 0: the teacher stage alone, e.g. fine-tuned teachers whose encoders later runs load.)
# e.g. `2 w2_lt100 configs/cifar10_lt100.yaml 300 candle,candle_lt --student cnv_w1a1_x2 --compile`.
# A run may span GPUs: lines with the same NAME must agree on CONFIG, EPOCHS and flags and differ only in GPU
# and METHODS; each line computes the teacher kinds its methods need (cache files are per kind set, so lines
# never write the same file), then trains its methods as parallel processes on its GPU. One summary per run
# covers all its methods. Every student stops cleanly (checkpoint + metrics; epochs_done says so) if the
# deadline comes first; before that, each student shortens itself after its second epoch (--fit-minutes) to
# the epochs that fit, so that its cosine schedule still ends at zero (metrics.json: epochs vs epochs_requested).
# REUSE_TEACHER="NAME ..." (environment): those runs skip the separate teacher stage and their students load the
# targets that an earlier call on the same, still warm machine cached under /tmp/runs/NAME (a plan line with
# EPOCHS 0); e.g. a cross-fitted teacher stage too long to share a call with its students.
# Results: $OUT/sweep_results.tgz (metrics, plots, logs) and $OUT/sweep_students.tgz
# (the deployable student.pt of every method: signs only, so it compresses ~17x).
source configs/device/env.sh > /dev/null || exit 1
PLAN=$1; DEADLINE=$2; T0=$(date +%s); R=/tmp/runs; L=/tmp/sweep_logs; mkdir -p $L
left() { python -c "import time; print(round(max(0.5, ($DEADLINE - 50 - ${1:-0} - (time.time() - $T0)) / 60), 2))"; }
python -c "from candle_hw.training.data import load_cifar10; load_cifar10()"  # decode once, before forks
nvidia-smi -L
declare -A RUNCMD RUNMETHODS
while read -r GPU NAME CFG EPOCHS METHODS EXTRA; do
  case "$GPU" in ''|\#*) continue;; esac
  C="--config $CFG --name $NAME --out $R --epochs $(( EPOCHS > 0 ? EPOCHS : 1 )) --no-progress $EXTRA"
  if [ -n "${RUNCMD[$NAME]}" ] && [ "${RUNCMD[$NAME]}" != "$C" ]; then
    echo "plan: run $NAME appears with different settings: '${RUNCMD[$NAME]}' vs '$C'"; exit 2
  fi
  RUNCMD[$NAME]=$C; RUNMETHODS[$NAME]="${RUNMETHODS[$NAME]:+${RUNMETHODS[$NAME]},}$METHODS"
  N=$(echo "$METHODS" | tr ',' '\n' | wc -l)
  LOG=$L/${NAME}_gpu$GPU.log
  (export CUDA_VISIBLE_DEVICES=$GPU
   { case " $REUSE_TEACHER " in *" $NAME "*) echo "teacher stage: reusing /tmp/runs/$NAME's cache";;
       *) python -m candle_hw.training.cli $C --methods $METHODS --stage teacher;; esac; } > $LOG 2>&1 &&
   # A student started with less than a minute and a half left overran the call's limit by its compile, summary
   # and packing (a 32-view multi-resolution teacher stage that ended at 500 of 545 s): such a run is skipped.
   M=$(left) && [ "$EPOCHS" != 0 ] && if python -c "import sys; sys.exit($M >= 1.5)"; then
     echo "students of $NAME not started: $M minutes left" >> $LOG
   else python -m candle_hw.training.cli $C --methods $METHODS --stage students --jobs $N --no-summary \
     --max-minutes $(left) --fit-minutes $(left 40) >> $LOG 2>&1; fi
   echo "== $NAME $METHODS (GPU $GPU) done at $(( $(date +%s) - T0 )) s, exit $?") &
done < "$PLAN"
wait
for NAME in "${!RUNCMD[@]}"; do
  python -m candle_hw.training.cli ${RUNCMD[$NAME]} --methods ${RUNMETHODS[$NAME]} --stage summary --device cpu \
    > $L/${NAME}_summary.log 2>&1
  echo "== $NAME"; grep -v '^{' $L/${NAME}_summary.log
done
echo "wall $(( $(date +%s) - T0 )) s"
# Students first: a caller's timeout that cuts this short then loses logs, not trained weights.
(cd $R && tar czf $OUT/sweep_students.tgz $(find . -name student.pt))
tar czf $OUT/sweep_results.tgz --exclude='*.pt' -C $R . -C /tmp sweep_logs
ls -la $OUT
