# Shared helpers for the README's commands (sourced, not run).

say() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# pip, quiet, without the warnings some machines print about unreachable local indexes.
pip_quiet() {
  local python="$1"; shift
  # grep exits 1 when pip printed nothing, which pipefail would turn into a failure.
  "$python" -m pip install -q "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' >&2 || true; }
  return "${PIPESTATUS[0]}"
}

# A Python 3.11 or newer, or a clear message.
find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  say "Python 3.11 or newer is needed (Debian: apt-get install python3 python3-venv)"; return 1
}

# ensure_venv DIR FILE...: create DIR as a virtualenv and install FILE (a requirements file),
# again only when FILE or the packages' pyproject.toml changed.
ensure_venv() {
  local dir="$1" requirements="$2" python stamp want
  python="$(find_python)"
  if [ ! -x "$dir/bin/python" ]; then
    if ! "$python" -m venv "$dir" 2>/dev/null; then
      rm -rf "$dir"
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing python3-venv with apt-get (one time)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
        "$python" -m venv "$dir"
      else
        say "cannot create a virtualenv: install python3-venv (sudo apt-get install python3-venv)"; return 1
      fi
    fi
    pip_quiet "$dir/bin/python" --upgrade pip
  fi
  stamp="$dir/.installed"
  want="$(cat "$requirements" tap-salesforce-bulk/pyproject.toml target-postgres-upsert/pyproject.toml | sha256sum | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing $requirements into $dir"
    pip_quiet "$dir/bin/python" -r "$requirements"
    echo "$want" > "$stamp"
  fi
}

# Meltano in its own virtualenv (never inside a plugin's): .tools/meltano/bin/meltano
MELTANO_VERSION="4.4.1"
ensure_meltano() {
  local dir=".tools/meltano"
  if [ ! -x "$dir/bin/meltano" ] || ! "$dir/bin/meltano" --version 2>/dev/null | grep -q "$MELTANO_VERSION"; then
    say "installing meltano $MELTANO_VERSION into $dir"
    mkdir -p .tools
    "$(find_python)" -m venv "$dir"
    pip_quiet "$dir/bin/python" --upgrade pip
    pip_quiet "$dir/bin/python" "meltano==$MELTANO_VERSION"
  fi
}
