# Sourced by the pxOS scripts: installs what is missing, idempotently, and
# sets up the environment. Safe to run again and again; does nothing when
# everything is already there.
set -euo pipefail

PXOS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PXOS_ROOT

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# Install the Debian packages given as arguments that are not installed yet.
pxos_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "pxOS setup: installing ${missing[*]}" >&2
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >&2
}

# Rust: the toolchain must exist (rustup); add components and targets we need.
pxos_rust() {
    if ! command -v cargo >/dev/null; then
        echo "pxOS setup: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
        exit 1
    fi
    for component in "$@"; do
        case "$component" in
            target:*) rustup target list --installed | grep -qx "${component#target:}" \
                      || rustup target add "${component#target:}" >&2 ;;
            *) rustup component list --installed | grep -q "^$component" \
               || rustup component add "$component" >&2 ;;
        esac
    done
}

# Mesa's Vulkan driver wants a private runtime dir; without one it prints noise.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR}" ]; then
    XDG_RUNTIME_DIR="$(mktemp -d /tmp/pxos-xdg.XXXXXX)"
    chmod 700 "$XDG_RUNTIME_DIR"
    export XDG_RUNTIME_DIR
fi
