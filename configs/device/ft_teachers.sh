# Fine-tuned teachers (extension) on one GPU, as parallel processes, all within DEADLINE seconds:
#   bash configs/device/ft_teachers.sh PLAN DEADLINE [KEEP]
# PLAN: sweep.sh lines with EPOCHS 0 and a method of a fine-tuned kind (cd_ft), each with
# `--set finetune.encoder_path=/tmp/teachers/NAME.pt` and a `finetune.fit_minutes` that ends inside the deadline.
# Afterwards the KEEP (default 2) best encoders by calibrated single-resolution accuracy go to $OUT as
# teacher_NAME.pt (split into 15 MiB parts teacher_NAME.pt.partNN where larger: `cat` them back), beside
# sweep.sh's sweep_results.tgz (every variant's teacher report).
PLAN=$1; DEADLINE=$2; KEEP=${3:-2}
mkdir -p /tmp/teachers
bash configs/device/sweep.sh "$PLAN" "$DEADLINE"
python - "$KEEP" <<'PY'
import json, pathlib, sys
rows = []
for rep in pathlib.Path("/tmp/runs").glob("*/teacher/teacher_*.json"):
    for kind, r in json.loads(rep.read_text())["kinds"].items():
        ft = r.get("finetune", {})
        if kind == "single_ft" and "accuracy" in r:
            rows.append((r["accuracy"], rep.parts[3], ft.get("own_head", {}).get("accuracy"), ft.get("epochs")))
for acc, name, own, ep in sorted(rows, reverse=True):
    print(f"teacher {name}: calibrated single {acc:.2f}, own head {own}, {ep} epochs")
keep = [name for _, name, _, _ in sorted(rows, reverse=True)[:int(sys.argv[1])]]
pathlib.Path("/tmp/keep.txt").write_text("\n".join(keep) + "\n")
PY
while read -r NAME; do
  F=/tmp/teachers/$NAME.pt; [ -f "$F" ] || continue
  if [ "$(stat -c %s "$F")" -gt 15728640 ]; then split -b 15M -d "$F" "$OUT/teacher_$NAME.pt.part"
  else cp "$F" "$OUT/teacher_$NAME.pt"; fi
done < /tmp/keep.txt
ls -la $OUT
