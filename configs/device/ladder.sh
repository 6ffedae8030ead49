# The ablation ladder for one config on a 2-GPU machine, finished within DEADLINE seconds of the start:
#   bash configs/device/ladder.sh configs/cifar10_lt100.yaml EPOCHS DEADLINE
# GPU 0: frozen-teacher kinds (uncalibrated, single, multi), then baseline, cd, cd_ab, candle, candle_lt in parallel.
# GPU 1: scratch (no teacher) while it fine-tunes the teacher (multi_ft), then candle_ft, candle_ft_lt.
# Each student stops cleanly (checkpoint + metrics) if the deadline comes first; epochs_done says so.
source configs/device/env.sh > /dev/null || exit 1
CFG=$1; E=$2; DEADLINE=$3; T0=$(date +%s); NAME=$(basename $CFG .yaml); R=/tmp/runs
C="--config $CFG --out $R --epochs $E --no-progress"
left() { python -c "import time; print(round(max(0.5, ($DEADLINE - 45 - (time.time() - $T0)) / 60), 2))"; }
G0="baseline,cd,cd_ab,candle,candle_lt"; G1="candle_ft,candle_ft_lt"
python -c "from candle_hw.training.data import load_cifar10; load_cifar10()"  # decode once, before forks
(export CUDA_VISIBLE_DEVICES=0
 python -m candle_hw.cli train $C --methods $G0 --stage teacher > $OUT/${NAME}_gpu0.log 2>&1
 python -m candle_hw.cli train $C --methods $G0 --stage students --jobs 5 --no-summary --max-minutes $(left) >> $OUT/${NAME}_gpu0.log 2>&1) &
(export CUDA_VISIBLE_DEVICES=1
 python -m candle_hw.cli train $C --methods scratch --stage students --no-summary --max-minutes $(left) > $OUT/${NAME}_scratch.log 2>&1 &
 python -m candle_hw.cli train $C --methods $G1 --stage teacher > $OUT/${NAME}_gpu1.log 2>&1
 python -m candle_hw.cli train $C --methods $G1 --stage students --jobs 2 --no-summary --max-minutes $(left) >> $OUT/${NAME}_gpu1.log 2>&1
 wait) &
wait
python -m candle_hw.cli train $C --stage summary --device cpu > $OUT/${NAME}_summary.log 2>&1
cat $OUT/${NAME}_summary.log; echo "wall $(( $(date +%s) - T0 )) s"; nvidia-smi -L
for m in candle candle_ft_lt; do cp $R/$NAME/$m/student.pt $OUT/${NAME}_${m}_student.pt 2>/dev/null; done
tar czf $OUT/${NAME}_results.tgz --exclude='*.pt' -C $R $NAME
