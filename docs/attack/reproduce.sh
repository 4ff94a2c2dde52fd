#!/usr/bin/env bash
# Reproduces docs/attack/: trains the runs (skipped if finished: bin/train.py resumes), attacks them with
# bin/attack.py (3 evaluation seeds), writes results.jsonl, the PNGs, and prints the tables of README.md.
#   bash docs/attack/reproduce.sh            # everything (about 35 min of training on 2 CPU cores)
#   bash docs/attack/reproduce.sh attack     # only the attacks and tables (runs/ must exist)
set -euo pipefail
cd "$(dirname "$0")/../.."
COMMON="--dataset=digits --net=dcgan --loss=ns --n_iter=2000 --batch_size=64 --width=32 --latent_dim=32
        --lr_d=2e-4 --lr_g=2e-4 --beta1=0.5 --verbose=2"

train() {
  for seed in 0 1 2; do
    sfx=$([ $seed = 0 ] && echo "" || echo "_s$seed")
    for reg in none dat; do
      # A: the 8x8 digits as the dataset ships them (DCGAN D: one stride-2 conv + dense).
      python bin/train.py $COMMON --regularizer=$reg --seed=$seed --run_dir=runs/attack_$reg$sfx
      # B: the digits resized to 32x32 (DCGAN D: three stride-2 convs + dense), checkpoints every 500 steps.
      python bin/train.py $COMMON --resolution=32 --regularizer=$reg --seed=$seed \
        --checkpoint_every=500 --keep_checkpoints=5 --run_dir=runs/attack32_$reg$sfx
    done
  done
}

attack() {
  out=docs/attack/results.jsonl
  : > $out
  for seed in 0 1 2; do
    sfx=$([ $seed = 0 ] && echo "" || echo "_s$seed")
    for reg in none dat; do
      ckpts_b=$([ $seed = 0 ] && echo "500 1000 1500 final" || echo "1000 final")
      for setting in "attack:1000 final" "attack32:$ckpts_b"; do
        prefix=${setting%%:*}
        for ck in ${setting#*:}; do
          for eval_seed in 0 1 2; do
            args=(--run_dir=runs/$prefix"_"$reg$sfx --num=64 --seed=$eval_seed)
            [ $ck != final ] && args+=(--checkpoint=$ck)
            if [ $ck = final ] && [ $seed = 0 ] && [ $eval_seed = 0 ]; then
              name=$reg$([ $prefix = attack32 ] && echo 32 || echo "")
              args+=(--out=docs/attack/$name.png --png_scale=$([ $prefix = attack32 ] && echo 2 || echo 4))
            fi
            python bin/attack.py "${args[@]}" 2>/dev/null >> $out
          done
        done
      done
    done
  done
}

case "${1:-all}" in
  all) train; attack ;;
  train) train ;;
  attack) attack ;;
  *) echo "usage: $0 [all|train|attack]" >&2; exit 2 ;;
esac
python docs/attack/summarize.py docs/attack/results.jsonl
