#!/usr/bin/env bash
# Installs the real BitTorrent tools the interop tests and benchmarks run
# against, from Debian packages. Does nothing when they are all present.
set -euo pipefail
pkgs=(python3-libtorrent aria2 transmission-cli opentracker mktorrent wrk qbittorrent-nox transmission-daemon chromium redis-server postgresql)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
