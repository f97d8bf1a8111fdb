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

# shellcheck source=scripts/peers/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

need=$(missing_packages)
if [ -z "$need" ]; then
  log "all gossip test prerequisites present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  log "missing: $(echo "$need" | tr '\n' ' ')- must run as root to install them (sudo bash scripts/peers/gossip.sh)"
  exit 2
fi

take_install_lock /var/lock/rollcall-gossip-peers.lock
need=$(missing_packages)
if [ -z "$need" ]; then
  log "all gossip test prerequisites present (installed by a concurrent run)"
  exit 0
fi

# serf ships an init script and a systemd unit: the install must not start an agent on the
# machine (the tests run their own on 127.0.0.x).
deny_daemon_starts

# shellcheck disable=SC2086 # $need is a newline separated list of package names
set -- $need
log "installing: $*"
apt_install "$@"

check_installed
if ! command -v serf >/dev/null; then
  log "serf is installed but not on PATH"
  exit 1
fi
log "gossip test prerequisites installed"
