#!/usr/bin/env bash
# Does pretraining help? Fine-tune the tiny BARTO and T5S checkpoints and the same architectures
# from random initialisation on QA, translation and summarization, then compare each pair with
# paired tests. Per architecture, the random-init and the pretrained runs go side by side, one
# thread each; the random-init runs need no pretraining, so they can overlap it at a lower priority:
#   nice -n 10 bash benchmarks/pretraining_ablation.sh   (while both pretrain commands run)
#
#   ARCHS=barto bash benchmarks/pretraining_ablation.sh   # one architecture only
#   bash benchmarks/pretraining_ablation.sh   # needs runs/tokenizer-*-8k; waits for runs/pretrain-{barto,t5s}-tiny
#   .venv/bin/python benchmarks/pretraining_ablation_table.py   # the table for RESULTS.md
#
# Results go to $RUNS/<arch>-<init>-<task>/ and $RUNS/compare-<arch>-<task>/ (report.md, compare.json).
set -euo pipefail
RUNS=${RUNS:-runs/ablation}
CLI=${CLI:-seq2seq-es}
mkdir -p "$RUNS"

# task -> fine-tuning overrides (same for every model) and the metrics compared.
task_args() {
  case "$1" in
    squad-es-qa)   echo "optim.steps=600 optim.batch_size=16 optim.lr=1e-3 optim.warmup_steps=60" ;;
    tatoeba-en-es) echo "optim.steps=2000 optim.batch_size=32 optim.lr=1e-3 optim.warmup_steps=200 max_eval_examples=1000" ;;
    legal-ar-sum)  echo "optim.steps=600 optim.batch_size=8 optim.lr=1e-3 optim.warmup_steps=60 max_eval_examples=300" ;;
  esac
}
task_metrics() {
  case "$1" in
    squad-es-qa)   echo "-m qa -m rouge" ;;
    tatoeba-en-es) echo "-m bleu -m chrf" ;;
    legal-ar-sum)  echo "-m rouge" ;;
  esac
}

finetune() {  # arch init task
  local arch=$1 init=$2 task=$3 out="$RUNS/$1-$2-$3"
  if [[ -f "$out/scores.json" ]]; then echo "skip $out (done)"; return; fi
  local model="model=runs/pretrain-$arch-tiny/model"
  [[ $init == random ]] && model="model=$arch-tiny tokenizer=runs/tokenizer-$arch-8k"
  echo "$(date -u +%T) start $out"
  # shellcheck disable=SC2046
  $CLI finetune task="$task" $model output_dir="$out" $(task_args "$task") \
    engine.threads=1 generation.num_beams=1 seed=1234 > "$RUNS/$arch-$init-$task.log" 2>&1
  echo "$(date -u +%T) done  $out"
}

cross_domain() {  # arch: the Tatoeba (everyday sentences) models on NTREX-128 news, paired tests too
  local m="$RUNS/matrix-$1" random="$RUNS/$1-random-tatoeba-en-es/model" pre="$RUNS/$1-pretrained-tatoeba-en-es/model"
  if [[ ! -f $m/matrix.json ]]; then
    $CLI eval-matrix "models=[$random,$pre]" tasks=[ntrex-en-es] generation.num_beams=1 output_dir="$m" \
      > "$RUNS/matrix-$1.log" 2>&1
  fi
  $CLI compare "$m/model0-model/ntrex-en-es/predictions.jsonl" "$m/model1-model/ntrex-en-es/predictions.jsonl" \
    -m bleu -m chrf output_dir="$RUNS/compare-$1-ntrex-en-es" > "$RUNS/compare-$1-ntrex-en-es.log" 2>&1
}

stream() {  # arch: the random-init runs need no pretraining, so they start at once; the pretrained
            # runs wait for that architecture's pretraining and run beside them; then the paired tests
  local tasks="squad-es-qa tatoeba-en-es legal-ar-sum"
  ( for task in $tasks; do finetune "$1" random "$task"; done ) &
  ( until [[ -f runs/pretrain-$1-tiny/summary.json ]]; do sleep 30; done
    for task in $tasks; do finetune "$1" pretrained "$task"; done ) &
  wait
  for task in $tasks; do
    # shellcheck disable=SC2046
    $CLI compare "$RUNS/$1-random-$task/predictions.jsonl" "$RUNS/$1-pretrained-$task/predictions.jsonl" \
      $(task_metrics "$task") output_dir="$RUNS/compare-$1-$task" > "$RUNS/compare-$1-$task.log" 2>&1
  done
  cross_domain "$1"
}

for arch in ${ARCHS:-barto t5s}; do stream "$arch" & done
wait
echo "all done"
