#!/usr/bin/env bash
# Installs what the gossip tests need on Debian 12: a real serf agent (0.9.4), and Go with
# Debian's hashicorp/memberlist (0.2.2) and go-msgpack (0.5.5) to build the Go memberlist peer
# (test/peers/go-memberlist) offline in GOPATH mode. Idempotent: when everything is present apt
# is not touched. Under CI=true any failure is fatal and says what is missing.
#
# Usage: bash scripts/peers/gossip.sh        (as root)
# Exit codes: 0 ready, 1 install failed, 2 not root.
set -euo pipefail

PACKAGES=(
  serf
  golang-go
  golang-github-hashicorp-memberlist-dev
  golang-github-hashicorp-go-msgpack-dev
  golang-google-protobuf-dev
  tcpdump
)

log() { printf 'gossip.sh: %s\n' "$*" >&2; }

missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || printf '%s\n' "$p"
  done
}

need=$(missing_packages)
if [ -z "$need" ]; then
  log "all gossip test prerequisites present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  log "missing: $(echo "$need" | tr '\n' ' ')- must run as root to install them (sudo bash scripts/peers/gossip.sh)"
  exit 2
fi

# Two test runs (or a run and a developer) may call this at once.
LOCK=/var/lock/rollcall-gossip-peers.lock
mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
if ! flock -w 900 9; then
  log "timed out waiting for $LOCK"
  exit 1
fi
need=$(missing_packages)
if [ -z "$need" ]; then
  log "all gossip test prerequisites present (installed by a concurrent run)"
  exit 0
fi

# serf ships an init script and a systemd unit: a policy-rc.d answering 101 keeps the install
# from starting an agent on the machine (the tests run their own on 127.0.0.1). A policy already
# in place is left as it is.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary: keep package installs from starting daemons\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  trap 'rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

has_candidates() {
  local p cand
  for p in "$@"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/{print $2; exit}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then return 1; fi
  done
}

# shellcheck disable=SC2086 # $need is a newline separated list of package names
set -- $need
log "installing: $*"
updated=0
if ! has_candidates "$@"; then
  log "package lists lack some of them: apt-get update"
  apt-get "${APT_OPTS[@]}" update
  updated=1
fi
if ! apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@"; then
  if [ "$updated" = 1 ]; then
    log "apt-get install failed"
    exit 1
  fi
  log "install failed with the current lists (stale mirror files?): apt-get update and retry"
  apt-get "${APT_OPTS[@]}" update
  apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@"
fi

left=$(missing_packages)
if [ -n "$left" ]; then
  log "still missing after install: $(echo "$left" | tr '\n' ' ')"
  exit 1
fi
if ! command -v serf >/dev/null; then
  log "serf is installed but not on PATH"
  exit 1
fi
log "gossip test prerequisites installed"
