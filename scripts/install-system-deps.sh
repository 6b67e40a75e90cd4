#!/usr/bin/env bash
# Installs the system packages the tests use (real servers on loopback, a real browser), once.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
for d in pl_PL ru_RU en_US; do [ -f "/usr/share/hunspell/$d.dic" ] || need+=("hunspell-${d%%_*}"); done
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
# hunspell-en is packaged as hunspell-en-us
need=("${need[@]/hunspell-en/hunspell-en-us}")
if [ "$(id -u)" != 0 ]; then
  echo "Missing system packages: ${need[*]} — install them (as root: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
