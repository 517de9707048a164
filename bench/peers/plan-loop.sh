#!/usr/bin/env bash
# The plain serial loop: per customer × environment, a fresh copy of the
# root module, `terraform init` and `terraform plan` with the var file the
# shell way rendered (render-shell.sh). One at a time, as a seed script does.
#   plan-loop.sh FLEET_DIR PAIRS_FILE VARS_DIR WORK_DIR
set -euo pipefail
fleet=$1 pairs=$2 vars=$3 work=$4
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
pairs="$(abs "$pairs")" vars="$(abs "$vars")"
mkdir -p "$work"
work="$(abs "$work")"
cd "$fleet"
while read -r c env; do
  d="$work/$c/$env"
  mkdir -p "$d"
  cp manager/terraform/*.tf "$d/"
  (
    cd "$d"
    terraform init -input=false -no-color >terraform.log
    terraform plan -input=false -no-color -var-file="$vars/$c/$env.tfvars.json" -out=tfplan >>terraform.log
  )
done <"$pairs"
