# Sourced by scripts/serve, scripts/test and scripts/bench/*: installs what is
# missing (Debian packages, a virtualenv in .venv, the package) and nothing else.
# Extra Debian packages can be asked for with GUARD_APT_EXTRA="pkg ...".
set -euo pipefail

GUARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GUARD_VENV="${GUARD_VENV:-$GUARD_ROOT/.venv}"

_guard_apt_packages="libchromaprint1 libchromaprint-tools ffmpeg chromium python3-venv python3-dev ca-certificates ${GUARD_APT_EXTRA:-}"

_guard_missing_packages() {
  local missing=()
  for pkg in $_guard_apt_packages; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  echo "${missing[@]:-}"
}

guard_install() {
  local missing
  missing="$(_guard_missing_packages)"
  if [ -n "$missing" ]; then
    echo "guard: installing Debian packages: $missing" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  if [ ! -x "$GUARD_VENV/bin/python" ]; then
    echo "guard: creating virtualenv $GUARD_VENV" >&2
    python3 -m venv "$GUARD_VENV"
  fi
  local stamp="$GUARD_VENV/.guard-installed"
  local want
  want="$(sha256sum "$GUARD_ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "guard: installing the package and its dependencies into $GUARD_VENV" >&2
    "$GUARD_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$GUARD_VENV/bin/python" -m pip install -q -e "$GUARD_ROOT[test]"
    echo "$want" > "$stamp"
  fi
  # numba caches compiled code per CPU and drops a file's kernels when the file changes: warm once per
  # installation, machine type and version of the extractor's kernels
  local warmed="$GUARD_VENV/.guard-kernels"
  local kernels
  kernels="$want $(uname -m) $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true)"
  kernels="$kernels $(cat "$GUARD_ROOT"/fingerprints/melody/*.py | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$warmed" ] || [ "$(cat "$warmed")" != "$kernels" ]; then
    _guard_warm_kernels
    echo "$kernels" > "$warmed"
  fi
}

_guard_warm_kernels() {
  # One process writes numba's on-disk cache of the melody extractor's kernels (librosa's gufuncs among them)
  # before anything else uses them: two processes compiling them at once can leave a cache that crashes every
  # later process with a segmentation fault (numba issue 10128). A cache that already crashes is cleared and
  # written again.
  echo "guard: compiling the melody extractor's numba kernels" >&2
  if "$GUARD_VENV/bin/python" -c "import guard._warm_extractor" 2>/dev/null; then
    return
  fi
  local librosa
  librosa="$("$GUARD_VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("librosa").origin))')"
  echo "guard: loading librosa's numba cache crashed; clearing it ($librosa) and compiling again" >&2
  find "$librosa" \( -name '*.nbi' -o -name '*.nbc' \) -delete
  "$GUARD_VENV/bin/python" -c "import guard._warm_extractor"
}
