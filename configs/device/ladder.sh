# The ablation ladder for one config on a 2-GPU machine, finished within DEADLINE seconds of the start:
#   bash configs/device/ladder.sh configs/cifar10_lt100.yaml EPOCHS DEADLINE [more candle-hw train flags]
# GPU 0: scratch (no teacher) at once; frozen teacher kinds (uncalibrated, multi); baseline, candle, candle_lt.
# GPU 1: teacher kinds single + multi_ft (fine-tuned extension); cd, cd_ab, candle_ft, candle_ft_lt.
# Students of one GPU run as parallel processes. Each stops cleanly (checkpoint + metrics) if the deadline
# comes first; metrics.json's epochs_done says so.
source configs/device/env.sh > /dev/null || exit 1
CFG=$1; E=$2; DEADLINE=$3; shift 3; T0=$(date +%s); NAME=$(basename $CFG .yaml); R=/tmp/runs
C="--config $CFG --out $R --epochs $E --no-progress $*"
left() { python -c "import time; print(round(max(0.5, ($DEADLINE - 40 - (time.time() - $T0)) / 60), 2))"; }
G0="baseline,candle,candle_lt"; G1="cd,cd_ab,candle_ft,candle_ft_lt"
python -c "from candle_hw.training.data import load_cifar10; load_cifar10()"  # decode once, before forks
(export CUDA_VISIBLE_DEVICES=0
 python -m candle_hw.cli train $C --methods scratch --stage students --no-summary --max-minutes $(left) > $OUT/${NAME}_scratch.log 2>&1 &
 python -m candle_hw.cli train $C --methods $G0 --stage teacher > $OUT/${NAME}_gpu0.log 2>&1
 python -m candle_hw.cli train $C --methods $G0 --stage students --jobs 3 --no-summary --max-minutes $(left) >> $OUT/${NAME}_gpu0.log 2>&1
 wait) &
(export CUDA_VISIBLE_DEVICES=1
 python -m candle_hw.cli train $C --methods $G1 --stage teacher > $OUT/${NAME}_gpu1.log 2>&1
 python -m candle_hw.cli train $C --methods $G1 --stage students --jobs 4 --no-summary --max-minutes $(left) >> $OUT/${NAME}_gpu1.log 2>&1) &
wait
python -m candle_hw.cli train $C --stage summary --device cpu > $OUT/${NAME}_summary.log 2>&1
cat $OUT/${NAME}_summary.log; echo "wall $(( $(date +%s) - T0 )) s"; nvidia-smi -L
for m in candle candle_ft_lt; do cp $R/$NAME/$m/student.pt $OUT/${NAME}_${m}_student.pt 2>/dev/null; done
tar czf $OUT/${NAME}_results.tgz --exclude='*.pt' -C $R $NAME
