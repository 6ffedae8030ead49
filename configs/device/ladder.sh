# The whole ablation ladder of one config on a 2-GPU machine, finished within DEADLINE seconds of the start:
#   bash configs/device/ladder.sh configs/cifar10_lt100.yaml EPOCHS DEADLINE [more candle-hw train flags]
# A plan for sweep.sh (which does the work): GPU 0 trains scratch at once, and baseline, candle, candle_lt after
# its teacher stage (uncalibrated + multi); GPU 1 trains cd, cd_ab, candle_ft, candle_ft_lt after its own
# (single + multi_ft, the fine-tuned extension).
CFG=$1; E=$2; DEADLINE=$3; shift 3; NAME=$(basename $CFG .yaml); PLAN=/tmp/ladder_plan.txt
cat > $PLAN <<PLAN
0 $NAME $CFG $E scratch $*
0 $NAME $CFG $E baseline,candle,candle_lt $*
1 $NAME $CFG $E cd,cd_ab,candle_ft,candle_ft_lt $*
PLAN
bash configs/device/sweep.sh $PLAN $DEADLINE
