# Fine-tuned teachers, then students distilled from the best of them, in one call on one GPU:
#   bash configs/device/ft_then_students.sh TEACHER_PLAN STUDENT_PLAN DEADLINE TEACHER_SECONDS
# Phase 1: ft_teachers.sh TEACHER_PLAN within TEACHER_SECONDS (its results: $OUT/teachers_results.tgz, the best
# encoders as $OUT/teacher_NAME.pt). Phase 2: STUDENT_PLAN through sweep.sh until DEADLINE (seconds from the start),
# after replacing @TEACHER@ in it by the best variant's flags (--teacher, --resolutions with its tuned resolution,
# finetune.encoder_path); its results are sweep.sh's ($OUT/sweep_results.tgz, $OUT/sweep_students.tgz).
TPLAN=$1; SPLAN=$2; DEADLINE=$3; TSEC=$4; T0=$(date +%s)
bash configs/device/ft_teachers.sh "$TPLAN" "$TSEC" 2
mv $OUT/sweep_results.tgz $OUT/teachers_results.tgz
BEST=$(head -1 /tmp/keep.txt)
[ -n "$BEST" ] || { echo "no fine-tuned teacher finished: students not started"; exit 1; }
FLAGS=$(python - "$BEST" <<'PY'
import json, pathlib, sys
name = sys.argv[1]
rep = json.loads(pathlib.Path(f"/tmp/runs/{name}/teacher/teacher_single_ft.json").read_text())
res = rep["kinds"]["single_ft"]["finetune"]["resolution"]
print(f"--teacher {rep['teacher']} --resolutions {res // 2},{res},{res * 2} --set finetune.full=true "
      f"--set finetune.encoder_path=/tmp/teachers/{name}.pt")
PY
)
echo "students from teacher $BEST: $FLAGS"
sed "s#@TEACHER@#$FLAGS#" "$SPLAN" > /tmp/student_plan.txt
bash configs/device/sweep.sh /tmp/student_plan.txt $(( DEADLINE - ($(date +%s) - T0) ))
