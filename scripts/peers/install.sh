#!/usr/bin/env bash
# Installs every real peer the tests run against, each only when missing:
#   consul.sh  Consul 1.8.7 (from Debian 11's archive, into .cache/peers)
#   lan.sh     iproute2, nftables, tcpdump, avahi (never started on the host), Go + test peers' libraries
#   gossip.sh  serf, Go with hashicorp/memberlist and go-msgpack (the Go memberlist peer)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for part in consul lan gossip; do
  if [ -f "$here/$part.sh" ]; then
    bash "$here/$part.sh" >/dev/null
  fi
done
