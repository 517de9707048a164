#!/usr/bin/env bash
# Installs the fleetform binary on a GitHub Actions runner. Run by the setup
# action (action.yml at the repo root) and by every action under actions/.
#
# 1. The version is the action's own (Cargo.toml next to this script), so a
#    ref pinned to a full commit SHA gets the binary built from that commit's
#    release; FLEETFORM_SETUP_VERSION overrides it.
# 2. The release asset follows cargo-dist's naming:
#    fleetform-<target>.tar.xz holding fleetform-<target>/fleetform (unix),
#    fleetform-<target>.zip holding fleetform.exe (windows).
# 3. Its SHA-256 must match checksums/v<version>.txt, committed in this repo
#    by the release workflow. Nothing is run or installed before that check.
# 4. The verified archive and the binary land in
#    $RUNNER_TOOL_CACHE/fleetform/<version>/<arch>/; its folder is added to
#    $GITHUB_PATH. A later job reuses the cache only after checking the
#    cached archive against the committed checksum again and the cached
#    binary against that archive (a self-hosted runner's cache is shared).
# 5. A version without checksums is a development commit (or a release tag
#    whose checksums were committed later, on the v<version>-action ref).
#    It is built from this checkout with `cargo install --locked` only when
#    asked for (FLEETFORM_SETUP_BUILD_FROM_SOURCE=true, the action's
#    build-from-source input); otherwise the step fails and says which ref
#    to pin.
#
# Inputs (environment):
#   FLEETFORM_SETUP_VERSION       version to install (default: the action's own)
#   FLEETFORM_SETUP_DOWNLOAD_URL  base URL of the release assets (default:
#                                 <server>/<owner>/<repo>/releases/download/v<version>)
#   FLEETFORM_SETUP_BUILD_FROM_SOURCE
#                                 true: build a version without checksums from
#                                 source with cargo (default: false, an error)
# Runner environment: RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP,
# GITHUB_PATH, GITHUB_OUTPUT, GITHUB_SERVER_URL.
# Outputs: path (the executable), version.
set -euo pipefail

die() {
  local msg="$*"
  msg="${msg//'%'/'%25'}"
  msg="${msg//$'\n'/'%0A'}"
  echo "::error title=fleetform setup::${msg}"
  exit 1
}

need_env() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || die "$name is not set: this script runs inside a GitHub Actions job"
  done
}

need_env RUNNER_OS RUNNER_ARCH RUNNER_TOOL_CACHE GITHUB_PATH GITHUB_OUTPUT

# A workflow may set fleetform's secrets on the step that uses an action
# (its `env:` then reaches every step of the action, this one included):
# none of them reaches the download or a build from source (build scripts
# of dependencies), only this script's own settings.
while IFS= read -r name; do
  case "$name" in
    FLEETFORM_SETUP_*) ;;
    FLEETFORM_*) unset "$name" ;;
  esac
done < <(compgen -e)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- version ---------------------------------------------------------------
own_version="$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version[[:space:]]*=/ {
    sub(/^version[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
  }' "$root/Cargo.toml")"
[ -n "$own_version" ] || die "cannot read the package version from $root/Cargo.toml"

version="${FLEETFORM_SETUP_VERSION:-$own_version}"
version="${version#v}"
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
[[ "$version" =~ $semver ]] || die "version '$version' is not a version number like 1.2.3"

# --- platform --------------------------------------------------------------
case "$RUNNER_OS/$RUNNER_ARCH" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *)
    die "unsupported runner: RUNNER_OS=$RUNNER_OS RUNNER_ARCH=$RUNNER_ARCH. fleetform releases exist for Linux (X64, ARM64), macOS (X64, ARM64) and Windows (X64)"
    ;;
esac
arch="$(printf '%s' "$RUNNER_ARCH" | tr '[:upper:]' '[:lower:]')"
if [ "$RUNNER_OS" = Windows ]; then
  exe=fleetform.exe
  asset="fleetform-$target.zip"
else
  exe=fleetform
  asset="fleetform-$target.tar.xz"
fi

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    openssl dgst -sha256 -r "$1" | awk '{print $1}'
  fi
}

publish() { # $1: folder holding the executable, $2: how it got there
  local dir="$1"
  echo "$dir" >>"$GITHUB_PATH"
  {
    echo "path=$dir/$exe"
    echo "version=$version"
  } >>"$GITHUB_OUTPUT"
  echo "fleetform $version ($target) $2: $dir/$exe"
}

case "${FLEETFORM_SETUP_BUILD_FROM_SOURCE:-false}" in
  true) from_source=true ;;
  false | "") from_source=false ;;
  *) die "build-from-source must be true or false (got '${FLEETFORM_SETUP_BUILD_FROM_SOURCE}')" ;;
esac

cache_dir="$RUNNER_TOOL_CACHE/fleetform/$version/$arch"
work="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/fleetform-setup.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- expected checksum -----------------------------------------------------
sums="$root/checksums/v$version.txt"
expected=""
if [ -f "$sums" ]; then
  # sha256sum format: "<hex> *<file>" or "<hex>  <file>".
  expected="$(awk -v want="$asset" '
    { name = $2; sub(/^\*/, "", name) }
    name == want && $1 ~ /^[0-9a-fA-F]+$/ && length($1) == 64 { print tolower($1); exit }
  ' "$sums")"
fi

if [ -z "$expected" ]; then
  if [ "$version" != "$own_version" ]; then
    die "no checksum for $asset in checksums/v$version.txt of this action: version $version is not a release this ref of the action knows. Use the action at the ref of that release, or leave 'version' empty"
  fi
  # A development commit, or a release tag made before its checksums.
  if [ "$from_source" != true ]; then
    die "fleetform $version has no release checksums in this ref of the action (no entry for $asset in checksums/v$version.txt). Pin the action to the release's v$version-action tag (or the commit it names), which holds them; or set the action's input build-from-source: true to build this ref with cargo (minutes per job)"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    die "fleetform $version has no published release for $target (no entry for $asset in checksums/v$version.txt: this ref is a development commit), and cargo is not installed to build it from source. Pin the action to a release commit, or install Rust before this step"
  fi
  # Source builds never enter the tool cache, where a development build could
  # shadow the later release of the same version; they live in RUNNER_TEMP
  # (emptied after every job), keyed by this checkout, and are reused by the
  # job's later fleetform steps.
  key="$(printf '%s' "$root" | cksum | awk '{print $1}')"
  build_root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/fleetform-source-build-$key"
  if [ -f "$build_root/.complete" ] && [ -f "$build_root/bin/$exe" ]; then
    publish "$build_root/bin" "built from source earlier in this job"
    exit 0
  fi
  echo "::notice title=fleetform setup::no release of fleetform $version for $target; building it from source with cargo (this takes a few minutes)"
  rm -rf "$build_root"
  cargo install --path "$root" --locked --root "$build_root"
  [ -f "$build_root/bin/$exe" ] || die "cargo install did not produce $build_root/bin/$exe"
  : >"$build_root/.complete"
  publish "$build_root/bin" "built from source"
  exit 0
fi

# --- unpack ----------------------------------------------------------------
unpack() { # $1: archive, $2: folder; prints the path of the executable
  local archive="$1" unpacked="$2" c
  local candidates=()
  mkdir -p "$unpacked"
  case "$asset" in
    *.tar.xz)
      tar -xJf "$archive" -C "$unpacked" --no-same-owner
      candidates=("$unpacked/fleetform-$target/$exe")
      ;;
    *.zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q "$archive" -d "$unpacked"
      elif command -v 7z >/dev/null 2>&1; then
        7z x -y -o"$unpacked" "$archive" >/dev/null
      else
        # shellcheck disable=SC2016 # PowerShell expands $env:..., not bash.
        ARCHIVE="$archive" DEST="$unpacked" pwsh -NoProfile -Command \
          'Expand-Archive -LiteralPath $env:ARCHIVE -DestinationPath $env:DEST'
      fi
      # cargo-dist's zips are flat; accept a top folder as well.
      candidates=("$unpacked/$exe" "$unpacked/fleetform-$target/$exe")
      ;;
  esac
  for c in "${candidates[@]}"; do
    if [ -f "$c" ] && [ ! -L "$c" ]; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  # stderr: stdout is the caller's value.
  die "$asset does not contain ${candidates[0]#"$unpacked"/}" >&2
}

# --- tool cache hit --------------------------------------------------------
# The cached archive must still match the committed checksum, and the cached
# binary must be the one in that archive: a `.sha256` stored beside it in a
# shared cache would vouch for nothing.
if [ -f "$cache_dir.complete" ] && [ -f "$cache_dir/$exe" ] && [ -f "$cache_dir/$asset" ] &&
  [ "$(sha256_of "$cache_dir/$asset")" = "$expected" ]; then
  cached_bin="$(unpack "$cache_dir/$asset" "$work/cached")"
  if cmp -s "$cached_bin" "$cache_dir/$exe"; then
    publish "$cache_dir" "found in the tool cache (verified against checksums/v$version.txt)"
    exit 0
  fi
  echo "::warning title=fleetform setup::the cached fleetform $version does not match its verified archive; installing it again"
fi

# --- download and verify ---------------------------------------------------
if [ -n "${FLEETFORM_SETUP_DOWNLOAD_URL:-}" ]; then
  base="${FLEETFORM_SETUP_DOWNLOAD_URL%/}"
else
  # The repository the action was fetched from: the runner unpacks remote
  # actions under _actions/<owner>/<repo>/<ref>/. A local action (uses: ./)
  # falls back to the repository named in Cargo.toml.
  action_path="${GITHUB_ACTION_PATH:-$root}"
  action_path="${action_path//\\//}"
  repo_url=""
  if [[ "$action_path" =~ /_actions/([^/]+)/([^/]+)/ ]]; then
    repo_url="${GITHUB_SERVER_URL:-https://github.com}/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  else
    repo_url="$(awk '
      /^\[/ { in_package = ($0 == "[package]") }
      in_package && /^repository[[:space:]]*=/ {
        sub(/^repository[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
      }' "$root/Cargo.toml")"
  fi
  [ -n "$repo_url" ] || die "cannot tell where fleetform is released: set the download-url input"
  base="${repo_url%/}/releases/download/v$version"
fi
loopback='^http://(localhost|127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\])(:[0-9]+)?(/|$)'
if [[ ! "$base" =~ ^https:// ]] && [[ ! "$base" =~ $loopback ]]; then
  die "download-url must be an https:// URL (got '$base')"
fi

archive="$work/$asset"
url="$base/$asset"
echo "downloading $url"
curl --fail --location --silent --show-error \
  --proto '=https,http' --proto-redir '=https' \
  --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 600 \
  --output "$archive" "$url" || die "download failed: $url"

actual="$(sha256_of "$archive")"
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $asset: expected $expected (checksums/v$version.txt), got $actual. Nothing was installed"
fi
echo "sha256 verified: $actual  $asset"

# --- unpack ----------------------------------------------------------------
bin="$(unpack "$archive" "$work/unpacked")"
chmod 755 "$bin"

reported="$("$bin" --version | head -n 1)" || die "the downloaded fleetform does not run on this runner"
[ "$reported" = "fleetform $version" ] || die "the downloaded binary reports '$reported', expected 'fleetform $version'"

# --- install into the tool cache -------------------------------------------
mkdir -p "$(dirname "$cache_dir")"
stage="$cache_dir.partial.$$"
rm -rf "$stage" "$cache_dir.complete"
mkdir -p "$stage"
cp "$bin" "$stage/$exe"
cp "$archive" "$stage/$asset"
rm -rf "$cache_dir"
mv "$stage" "$cache_dir"
: >"$cache_dir.complete"

publish "$cache_dir" "installed"
