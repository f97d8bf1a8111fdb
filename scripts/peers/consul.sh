#!/usr/bin/env bash
# Provides a real Consul agent binary for the tests and prints its path on the last line of stdout.
#
# Consul left Debian after bullseye, so on bookworm machines the bullseye package (a static Go
# binary) is fetched from the archive this machine already uses and unpacked into
# <repo>/.cache/peers/consul. The system's apt lists, cache and dpkg database stay untouched:
# apt runs against private lists under a temporary directory with the update hooks cleared.
#
# Environment: CONSUL_PEER_LOCK_TIMEOUT (seconds to wait for a concurrent run, default 600).
set -euo pipefail

want_version=1.8.7
suite=bullseye
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(cd -- "$script_dir/../.." && pwd -P)
cache_root=$repo_root/.cache/peers
dest=$cache_root/consul
bin=$dest/usr/bin/consul

log() { printf 'consul.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# A consul already installed on the machine wins: CI images may provide one.
if on_path=$(command -v consul 2>/dev/null) && [ -n "$on_path" ]; then
  printf '%s\n' "$on_path"
  exit 0
fi
if [ -x "$bin" ]; then
  printf '%s\n' "$bin"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/consul.lock"
if ! flock -w "${CONSUL_PEER_LOCK_TIMEOUT:-600}" 9; then
  die "timed out waiting for another installer holding $cache_root/consul.lock"
fi
# The run that held the lock before us may have finished the job.
if [ -x "$bin" ]; then
  printf '%s\n' "$bin"
  exit 0
fi

# The Debian archive URI this machine is configured with. Security and update suites live on
# other URIs or suites that do not carry bullseye main, so the first plain archive entry is used.
mirror_from_deb822() {
  local f=/etc/apt/sources.list.d/debian.sources
  [ -r "$f" ] || return 0
  awk '
    function flush() {
      if (uris != "" && enabled != "no" && types ~ /(^| )deb( |$)/ && suites !~ /-security/ && pick == "") {
        split(uris, u, " "); pick = u[1]
      }
      uris = ""; types = ""; suites = ""; enabled = ""
    }
    /^[[:space:]]*#/ { next }
    /^[[:space:]]*$/ { flush(); next }
    {
      key = tolower($1); sub(/:$/, "", key)
      val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
      if (key == "uris") uris = val
      else if (key == "types") types = val
      else if (key == "suites") suites = val
      else if (key == "enabled") enabled = tolower(val)
    }
    END { flush(); if (pick != "") print pick }
  ' "$f"
}

mirror_from_list() {
  local f=/etc/apt/sources.list
  [ -r "$f" ] || return 0
  awk '
    $1 != "deb" { next }
    {
      line = $0; sub(/^deb[[:space:]]+/, "", line)
      if (line ~ /^\[/) sub(/^\[[^]]*\][[:space:]]*/, "", line)
      split(line, f, /[[:space:]]+/)
      if (f[2] ~ /-security/ || f[1] ~ /security/) next
      print f[1]; exit
    }
  ' "$f"
}

uri=$(mirror_from_deb822)
[ -n "$uri" ] || uri=$(mirror_from_list)
[ -n "$uri" ] || die "no Debian archive URI found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
[ -r "$keyring" ] || die "$keyring is missing (package debian-archive-keyring)"
log "fetching consul $want_version from $uri $suite main"

work=$(mktemp -d "$cache_root/.consul-work.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$uri" "$suite" >"$work/sources.list"
# The machine's apt.conf.d stays in effect (proxies, snapshot date checks); its hooks would act on
# the system (appstream, packagekit), so they are cleared for these private runs.
cat >"$work/apt.conf" <<EOF
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
Dir::Etc::SourceList "$work/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
Dir::Cache::archives "$work/cache/archives";
Acquire::Languages "none";
APT::Sandbox::User "root";
EOF

export APT_CONFIG=$work/apt.conf DEBIAN_FRONTEND=noninteractive
apt-get -q -y update >&2 || die "apt-get update against $uri $suite failed"
(cd "$work/debs" && apt-get -q -y download "consul=$want_version*" >&2) ||
  (cd "$work/debs" && apt-get -q -y download consul >&2) ||
  die "apt-get download consul failed"

deb=$(find "$work/debs" -maxdepth 1 -name 'consul_*.deb' -print -quit)
[ -n "$deb" ] || die "no consul .deb was downloaded"

staging=$work/root
dpkg -x "$deb" "$staging"
[ -x "$staging/usr/bin/consul" ] || die "the package did not contain usr/bin/consul"
version_out=$("$staging/usr/bin/consul" version 2>&1) || die "consul version failed: $version_out"
case "$version_out" in
  *"Consul v$want_version"*) ;;
  *) die "expected Consul v$want_version, got: $(printf '%s' "$version_out" | head -n1)" ;;
esac

# Move into place only once verified, so an interrupted run never leaves a broken cache behind.
rm -rf -- "$dest"
mv -- "$staging" "$dest"
log "$(printf '%s' "$version_out" | head -n1) installed"
printf '%s\n' "$bin"
