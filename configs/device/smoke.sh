# One short call: environment check, per-step profile, and a 2-epoch ladder on each GPU (parallel methods).
source configs/device/env.sh || exit 1
nvidia-smi -L; python -c "import torch, brevitas; print(torch.__version__, brevitas.__version__)"
python -m candle_hw.training.profile --steps 20 --out $OUT/profile.json > $OUT/profile.log 2>&1 &
P=$!
SMOKE="--epochs 2 --views 2 --calib-epochs 2 --ft-epochs 1 --jobs 8 --no-progress --out /tmp/runs"
CUDA_VISIBLE_DEVICES=1 python -m candle_hw.training.cli --config configs/cifar10_lt100.yaml --name smoke100 $SMOKE > $OUT/smoke100.log 2>&1
wait $P
tail -5 $OUT/profile.log; tail -15 $OUT/smoke100.log
cp /tmp/runs/smoke100/metrics.json $OUT/smoke100_metrics.json
cp /tmp/runs/smoke100/teacher/teacher.json $OUT/smoke100_teacher.json
for m in candle candle_ft_lt; do tail -3 /tmp/runs/smoke100/$m.log; done
