# Sourced by bin/serve and bin/test: a virtualenv with the given requirements file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
ensure_venv() {
  local req="$1" stamp=".venv/.installed-$(basename "$1")"
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  # Reinstall only when the requirements changed.
  if [ ! -f "$stamp" ] || ! cmp -s "$stamp" <(cat "$req" requirements*.txt); then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
    cat "$req" requirements*.txt > "$stamp"
  fi
}
