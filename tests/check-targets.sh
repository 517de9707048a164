#!/usr/bin/env bash
# `cargo check` of the binary for the release targets dist-workspace.toml
# names (Windows, macOS, musl Linux), so a dependency or `cfg` that only
# builds on the host is caught before a release fails. tests/check.sh runs
# it; `rustup target add` installs a missing target's standard library.
#
# One target per system (what follows the architecture in the triple:
# apple-darwin, unknown-linux-musl, pc-windows-msvc), chosen so that every
# architecture of the list is checked too (x86_64 and aarch64): a cfg of
# either kind is seen, and three targets are checked instead of five (each
# checked target cost about a minute of a fresh CI run on two cores). The
# release workflow builds all five. `--all` checks every one of them;
# `--list` prints the targets it would check. `--covered TARGET` names a
# release target another step builds in full (tests/check.sh builds the
# static release binary for x86_64-unknown-linux-musl): it counts as
# checked, its system and architecture too, and is not checked again.
#
# The Rust code of every crate is type-checked for the target. The C parts
# of dependencies (ring, mimalloc) are not: they need the target's C
# toolchain and system headers (MSVC and the Windows SDK, Apple's SDK),
# which a Linux machine does not have, and a check does not link. Their
# compiler and archiver are stand-ins that write empty outputs; those crates'
# own CI builds their C for these targets.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=$(sed -n '/^targets = \[/,/^\]/p' dist-workspace.toml | grep -o '"[^"]*"' | tr -d '"')
if [ -z "$targets" ]; then
  echo "error: no targets found in dist-workspace.toml's [dist] targets" >&2
  exit 1
fi

shims="$(mktemp -d)"
trap 'rm -rf "$shims"' EXIT
# A C compiler that writes an empty object where it is told to
# (MSVC's -Fo/Fo, or -o FILE).
cat >"$shims/cc" <<'SH'
#!/bin/sh
next=""
for a in "$@"; do
  if [ -n "$next" ]; then : >"$a"; next=""; continue; fi
  case "$a" in
    -o) next=1 ;;
    -Fo* | /Fo*) : >"${a#???}" ;;
  esac
done
SH
# An archiver that writes an empty archive: `ar cq FILE …`, `ar s FILE`,
# or MSVC's `lib.exe -out:FILE` / `/OUT:FILE`.
cat >"$shims/ar" <<'SH'
#!/bin/sh
for a in "$@"; do
  case "$a" in
    -out:* | /out:* | -OUT:* | /OUT:*) : >"${a#*:}"; exit 0 ;;
  esac
done
[ "$#" -ge 2 ] && [ ! -s "$2" ] && printf '!<arch>\n' >"$2"
exit 0
SH
chmod +x "$shims/cc" "$shims/ar"

usage="bash tests/check-targets.sh [--all] [--list] [--covered TARGET]..."
all=""
list=""
covered=""
while [ "$#" -gt 0 ]; do
  case "$1" in
  --all) all=1 ;;
  --list) list=1 ;;
  --covered)
    if [ "$#" -lt 2 ] || ! grep -qxF -- "$2" <<<"$targets"; then
      echo "error: --covered takes a target of dist-workspace.toml's [dist] targets ($usage)" >&2
      exit 2
    fi
    covered+="$2"$'\n'
    shift
    ;;
  *)
    echo "error: unknown argument $1 ($usage)" >&2
    exit 2
    ;;
  esac
  shift
done
if [ -n "$all" ] && [ -n "$covered" ]; then
  echo "error: --all checks every target; --covered goes without it ($usage)" >&2
  exit 2
fi
if [ -z "$all" ]; then
  # Per system, a target whose architecture no chosen target has yet, else
  # the first of that system; then any architecture still missing. The
  # covered targets are chosen first, and dropped from the list at the end.
  chosen="$covered"
  arches="$(sed -n 's/-.*//p' <<<"$covered")"$'\n'
  for t in $targets; do
    system=${t#*-}
    if grep -q -- "-$system\$" <<<"$chosen"; then continue; fi
    pick=""
    for c in $targets; do
      [ "${c#*-}" = "$system" ] || continue
      [ -n "$pick" ] || pick=$c
      if ! grep -qx "${c%%-*}" <<<"$arches"; then pick=$c; break; fi
    done
    chosen+="$pick"$'\n'
    arches+="${pick%%-*}"$'\n'
  done
  for t in $targets; do
    if ! grep -qx "${t%%-*}" <<<"$arches"; then
      chosen+="$t"$'\n'
      arches+="${t%%-*}"$'\n'
    fi
  done
  targets=$(sed '/^$/d' <<<"$chosen" | grep -vxF -f <(printf '%s\n' "$covered" | sed '/^$/d') || true)
fi
# --list: the targets it would check, one per line, and nothing else.
if [ -n "$list" ]; then
  printf '%s\n' $targets
  exit 0
fi

if [ -z "$targets" ]; then
  echo "==> every release target is covered by another step: nothing to check"
  exit 0
fi

installed=$(rustup target list --installed 2>/dev/null || true)
# One `cargo check` for every target: cargo schedules their crates
# together and builds the host's build scripts once (one invocation per
# target left a core idle at the end of each).
args=()
envs=()
for t in $targets; do
  if ! grep -qx "$t" <<<"$installed"; then
    echo "==> rustup target add $t"
    rustup target add "$t"
  fi
  env_t=${t//-/_}
  envs+=("CC_$env_t=$shims/cc" "CXX_$env_t=$shims/cc" "AR_$env_t=$shims/ar")
  args+=(--target "$t")
done
echo "==> cargo check ${args[*]}"
env "${envs[@]}" cargo check --locked "${args[@]}" --bin fleetform
