#!/usr/bin/env bash
# The shell way to render one customer × environment (what a seed script
# does): deep-merge the layer files with yq/jq `*` and substitute the
# `{{ name }}` templates with gsub. Run from a fleet dir (bench/gen.py):
#   render-one.sh OUT_DIR SLUG ENV
# Writes OUT_DIR/SLUG/ENV.tfvars.json. No schema validation, no credential
# check, no positions: fleetform does those as well.
set -euo pipefail
out=$1 c=$2 env=$3
files=(manager/values/base.yml "manager/values/$env.yml" "customers/$c/infra/variables.yml")
override="customers/$c/infra/variables.$env.yml"
if [[ -f $override ]]; then files+=("$override"); fi
mkdir -p "$out/$c"
yq -s --arg env "$env" --arg customer "$c" '
  def render($ctx):
    walk(if type == "string"
         then reduce ($ctx | to_entries[]) as $kv
                (.; gsub("\\{\\{ *" + $kv.key + " *\\}\\}"; $kv.value))
         else . end);
  (.[2] | del(.environments)) as $common
  | (.[2].environments[$env] // {}) as $env_block
  | (.[0] * (.[1] // {}) * $common * $env_block * (.[3] // {})) as $v
  | $v | render({customer: $customer, environment: $env, project_name: $v.project_name})
' "${files[@]}" > "$out/$c/$env.tfvars.json"
