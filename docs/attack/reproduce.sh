#!/usr/bin/env bash
# Reproduces docs/attack/ with `python bin/attack.py --reproduce` (the code: dat_tf/experiments/figure1.py, reproduce):
# trains the runs in runs/ (resumed or skipped if they exist), attacks them (3 evaluation seeds), writes
# results.jsonl, the PNGs and tables.md here, and prints the tables of README.md.
#   bash docs/attack/reproduce.sh            # everything (about 35 min of training on 2 CPU cores)
#   bash docs/attack/reproduce.sh attack     # only the attacks and tables (runs/ must exist)
#   bash docs/attack/reproduce.sh train      # only the training
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python bin/attack.py --reproduce="${1:-all}" --out_dir=docs/attack
