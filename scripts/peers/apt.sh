# Shared by the peer install scripts (sourced, not run): what is missing, one install at a time,
# no daemon started by a package's maintainer scripts, and an apt-get that survives stale lists.
# The caller sets PACKAGES (an array) and defines log() before sourcing this file.

# Prints the packages of PACKAGES that dpkg does not list as installed, one a line.
missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || printf '%s\n' "$p"
  done
}

# Takes an exclusive lock on file $1 (fd 9) so two test runs, or a run and a developer, never run
# apt at once; waits up to 900 s.
take_install_lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -w 900 9; then
    log "timed out waiting for $1"
    exit 1
  fi
}

# policy-rc.d answering 101 keeps maintainer scripts from starting daemons (serf, avahi, dbus) on
# the machine: the tests run their own, on loopback or inside namespaces. An existing policy that
# would allow starts is set aside and put back on exit; one that already denies is left alone.
POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=
POLICY_CREATED=0
restore_policy() {
  if [ "$POLICY_CREATED" = 1 ]; then
    rm -f "$POLICY"
    if [ -n "$POLICY_BACKUP" ]; then mv -f "$POLICY_BACKUP" "$POLICY"; fi
    POLICY_CREATED=0
  fi
}
deny_daemon_starts() {
  local rc=0
  if [ -x "$POLICY" ]; then
    "$POLICY" some-daemon start >/dev/null 2>&1 || rc=$?
    [ "$rc" = 101 ] && return 0
  fi
  if [ -e "$POLICY" ]; then
    POLICY_BACKUP="$POLICY.rollcall.$$"
    mv -f "$POLICY" "$POLICY_BACKUP"
  fi
  POLICY_CREATED=1
  trap restore_policy EXIT
  printf '#!/bin/sh\n# temporary: keep package installs from starting daemons\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
}

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# True when apt has an install candidate for every package named.
has_candidates() {
  local p cand
  for p in "$@"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/{print $2; exit}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then return 1; fi
  done
}

# Installs the packages named, without recommends (avahi-daemon recommends libnss-mdns, which would
# rewrite /etc/nsswitch.conf for the whole machine). Lists are refreshed first only when they lack
# a package, and once more if the install fails on stale mirror files.
apt_install() {
  local updated=0
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
}

# Exits 1 naming what is still missing after an install.
check_installed() {
  local left
  left=$(missing_packages)
  if [ -n "$left" ]; then
    log "still missing after install: $(echo "$left" | tr '\n' ' ')"
    exit 1
  fi
}
