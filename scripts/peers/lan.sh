#!/usr/bin/env bash
# Installs what the LAN tests (test/peers/lan.ts) need on Debian 12: network
# namespaces, nftables loss rules, tcpdump captures, an avahi-daemon that only
# ever runs inside a test namespace, and a Go toolchain with hashicorp/mdns for
# a Go mDNS peer. Idempotent: when everything is present apt is not touched.
#
# Usage: bash scripts/peers/lan.sh        (as root)
# Exit codes: 0 ready, 1 install failed, 2 not root.
set -euo pipefail

PACKAGES=(
  iproute2
  nftables
  tcpdump
  dbus
  avahi-daemon
  avahi-utils
  golang-go
  golang-github-hashicorp-mdns-dev
)

log() { printf 'lan.sh: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs Debian packages and the tests create network namespaces); re-run with sudo or as root"
  exit 2
fi

# shellcheck source=scripts/peers/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

# An avahi-daemon that this script brings onto the machine must never run
# outside the test namespaces: it would answer on the real network. Masking
# covers the systemd service and socket (boot and socket activation) and the
# dbus-org.freedesktop.Avahi alias that D-Bus activation goes through on
# systemd machines. It is plain symlinks, so it works whether systemd runs or
# not. Only applied when this script installs avahi-daemon: a machine whose
# owner already runs avahi keeps it.
keep_avahi_off() {
  local unit
  mkdir -p /etc/systemd/system
  for unit in avahi-daemon.service avahi-daemon.socket dbus-org.freedesktop.Avahi.service; do
    if [ "$(readlink "/etc/systemd/system/$unit" 2>/dev/null || true)" != /dev/null ]; then
      ln -sfn /dev/null "/etc/systemd/system/$unit"
      log "masked $unit"
    fi
  done
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    if systemctl is-active --quiet avahi-daemon.service 2>/dev/null; then
      log "avahi-daemon.service was started by the install: stopping it"
      systemctl stop avahi-daemon.service avahi-daemon.socket || true
    fi
  fi
  # Without systemd the bus execs the Exec= line of the activation file.
  # Debian ships Exec=/bin/false there; anything else is neutralised.
  local act=/usr/share/dbus-1/system-services/org.freedesktop.Avahi.service
  if [ -f "$act" ] && grep -q '^Exec=.*avahi-daemon' "$act"; then
    sed -i 's|^Exec=.*|Exec=/bin/false|' "$act"
    log "disabled D-Bus activation in $act"
  fi
}

report_machine_avahi() {
  # Informational only: the tests run their own daemons in namespaces and
  # share nothing with one on the machine.
  if pgrep -x avahi-daemon >/dev/null 2>&1; then
    log "note: an avahi-daemon runs on this machine; the LAN tests neither use nor touch it"
  fi
}

need=$(missing_packages)
if [ -z "$need" ]; then
  report_machine_avahi
  log "all LAN test prerequisites present"
  exit 0
fi

take_install_lock /var/lock/rollcall-lan-peers.lock

need=$(missing_packages)
if [ -z "$need" ]; then
  report_machine_avahi
  log "all LAN test prerequisites present (installed by a concurrent run)"
  exit 0
fi

# Nothing the install brings (avahi-daemon, dbus) may start on the machine.
deny_daemon_starts

# shellcheck disable=SC2086 # $need is a newline separated list of package names
set -- $need
log "installing: $*"
installing_avahi=0
if printf '%s\n' "$@" | grep -qx avahi-daemon; then
  installing_avahi=1
  # Masked before the install too, so nothing can activate it in between.
  keep_avahi_off
fi
apt_install "$@"

if [ "$installing_avahi" = 1 ]; then keep_avahi_off; fi
report_machine_avahi

check_installed
log "LAN test prerequisites installed"
