#!/usr/bin/env bash
# Install moodbox on Raspberry Pi OS (Bookworm or later) as a systemd service.
#
#   sudo tools/install.sh            # install or upgrade; safe to run again
#   tools/install.sh --dry-run       # print every action, change nothing
#   tools/install.sh --python-only --prefix DIR   # only the venv and its packages
#
# What it does: apt packages (mpd, picamera2, lgpio, venv), a system user
# `moodbox` in the video and gpio groups, the code and model under PREFIX, a
# venv with --system-site-packages (picamera2 comes from apt), the config at
# /etc/moodbox/config.yaml, root:moodbox 640 as it holds mpd.password (an existing
# one is never overwritten or re-permissioned: the new default goes beside it as
# config.yaml.new), the systemd unit, enabled and started.
set -euo pipefail

PREFIX=/opt/moodbox
ETC=/etc/moodbox
UNIT_DIR=/etc/systemd/system
SERVICE_USER=moodbox
DRY_RUN=0
PYTHON_ONLY=0
# mpc: the fix lines of `moodbox check` and the journal name it (mpc update, mpc save NAME).
APT_PACKAGES=(mpd mpc python3-venv python3-pip python3-picamera2 python3-lgpio)
PI_ONLY_PACKAGES=(python3-picamera2 python3-lgpio)  # in Raspberry Pi's apt repository, not Debian's
RPI_ISSUE=${MOODBOX_RPI_ISSUE:-/etc/rpi-issue}  # present on Raspberry Pi OS only

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --dry-run  --prefix DIR (default $PREFIX)  --etc DIR (default $ETC)  --unit-dir DIR"
    echo "  --python-only: only the Python step (models, code copy, venv, pip) into PREFIX: no apt, user, config"
    echo "    or unit, and no root needed for a PREFIX you can write to (the arm64 check uses it)"
}

while (($#)); do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --python-only) PYTHON_ONLY=1 ;;
        --prefix) PREFIX=$2; shift ;;
        --etc) ETC=$2; shift ;;
        --unit-dir) UNIT_DIR=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1; see --help" >&2; exit 2 ;;
    esac
    shift
done

SRC=$(cd "$(dirname "$0")/.." && pwd)

# Every change goes through run: printed always, executed unless --dry-run.
run() {
    echo "+ $*"
    if ((!DRY_RUN)); then "$@"; fi
}

note() { echo "== $*"; }

# The Python step: the models and this checkout's package into a venv under PREFIX that also sees
# the system's packages (picamera2 comes from apt). moodbox finds its models in PREFIX/models.
python_step() {
    run install -d -m 755 "$PREFIX" "$PREFIX/models"
    run install -m 644 "$SRC/models/emotion.tflite" "$SRC/models/emotion.json" \
        "$SRC/models/musicnn.tflite" "$SRC/models/musicnn.json" "$SRC/models/music_head.json" "$PREFIX/models/"
    run rm -rf "$PREFIX/src"
    run install -d -m 755 "$PREFIX/src"
    run cp -r "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/device" "$PREFIX/src/"
    if [[ ! -x "$PREFIX/venv/bin/python" ]]; then
        run python3 -m venv --system-site-packages "$PREFIX/venv"
    fi
    # On Raspberry Pi OS Bookworm (Python 3.11, Debian's numpy 1.24.2, which picamera2's compiled helpers
    # are built against) every package comes from the lock, pinned and checked against its sha256
    # (requirements/pi-bookworm.txt, `make lock`); moodbox itself is then built from the copy with the
    # lock's setuptools, fetching nothing else.
    local system_python system_numpy pins=()
    system_python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    system_numpy=$(python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
    if [[ $system_python == 3.11 && ( -z $system_numpy || $system_numpy == 1.24.2 ) ]]; then
        run "$PREFIX/venv/bin/pip" install --quiet --require-hashes -r "$SRC/requirements/pi-bookworm.txt"
        run "$PREFIX/venv/bin/pip" install --quiet --no-deps --no-build-isolation --upgrade "$PREFIX/src"
        return
    fi
    # Any other system: the newest releases that fit, unpinned (say so). Keep the system's numpy in the
    # venv too; OpenCV 4.12 and later need numpy 2: with numpy 1 say so up front, or pip downloads and
    # rejects one OpenCV wheel after another (about 172 MB to keep 29.5 MB).
    note "Python $system_python${system_numpy:+ with numpy $system_numpy} is not Raspberry Pi OS Bookworm's" \
        "(3.11, numpy 1.24.2): installing the newest fitting releases from PyPI, not the hash-checked lock"
    if [[ -n "$system_numpy" ]]; then
        pins+=("numpy==$system_numpy")
        if ((${system_numpy%%.*} < 2)); then pins+=("opencv-python-headless<4.12"); fi
    fi
    run "$PREFIX/venv/bin/pip" install --quiet --upgrade "$PREFIX/src" "${pins[@]}"
}

if ((PYTHON_ONLY)); then
    note "Python step only: the models and this checkout's package into $PREFIX"
    python_step
    note "done: $PREFIX/venv/bin/moodbox"
    exit 0
fi

if ((!DRY_RUN)) && ((EUID != 0)); then
    echo "install.sh: run as root (sudo tools/install.sh), or with --dry-run to see what it would do" >&2
    exit 1
fi

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-unknown}")
os_name=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
if [[ -e $RPI_ISSUE ]]; then
    case "$codename" in
        bookworm|trixie|forky) note "Raspberry Pi OS ($codename)" ;;
        *) note "warning: Raspberry Pi OS $codename is not Bookworm or later; continuing, but picamera2 may be missing" ;;
    esac
else
    note "$os_name, not Raspberry Pi OS (no $RPI_ISSUE)"
    # Debian has no picamera2 or lgpio: asking apt for them would stop the install. Leave out what apt lacks.
    skipped=()
    for pkg in "${PI_ONLY_PACKAGES[@]}"; do
        if ! apt-cache show "$pkg" >/dev/null 2>&1; then
            skipped+=("$pkg")
            for i in "${!APT_PACKAGES[@]}"; do [[ ${APT_PACKAGES[$i]} == "$pkg" ]] && unset 'APT_PACKAGES[i]'; done
        fi
    done
    APT_PACKAGES=("${APT_PACKAGES[@]}")
    if ((${#skipped[@]})); then
        echo "  skipped ${skipped[*]}: only in Raspberry Pi OS's apt repository (the Pi camera and the buttons/LED" \
            "need them; a USB camera or a clip works without)"
    fi
fi

note "apt packages"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
    echo "  all present: ${APT_PACKAGES[*]}"
fi

note "service user $SERVICE_USER (groups video, gpio)"
for group in video gpio; do
    getent group "$group" >/dev/null || run groupadd --system "$group"
done
if id "$SERVICE_USER" >/dev/null 2>&1; then
    run usermod --append --groups video,gpio "$SERVICE_USER"
else
    run useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --user-group --groups video,gpio "$SERVICE_USER"
fi

note "code and models in $PREFIX"
python_step

note "config $ETC/config.yaml"
# The config holds mpd.password: root and the service user read it, nobody else. A new file is private
# from its first byte (mktemp makes it 600) and moved into place whole; an existing one is never touched.
write_private() {  # write_private PATH TEXT
    if ((DRY_RUN)); then echo "+ write $1 (root:$SERVICE_USER 640)"; return; fi
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    printf '%s\n' "$2" > "$tmp"
    chown "root:$SERVICE_USER" "$tmp"
    chmod 640 "$tmp"
    mv -f "$tmp" "$1"
}
run install -d -m 755 "$ETC"
default_config=$(sed "s|^  path: models/emotion.tflite|  path: $PREFIX/models/emotion.tflite|" "$SRC/config.yaml")
if [[ -e "$ETC/config.yaml" ]]; then
    if [[ "$(cat "$ETC/config.yaml")" == "$default_config" ]]; then
        echo "  unchanged default, kept"
    else
        echo "  edited config kept; the new default is written beside it as config.yaml.new"
        write_private "$ETC/config.yaml.new" "$default_config"
    fi
    if [[ -n "$(find "$ETC/config.yaml" -maxdepth 0 -perm /o=rwx)" ]]; then
        echo "  warning: every user can read $ETC/config.yaml (and mpd.password in it); left as it is."
        echo "  to fix: sudo chown root:$SERVICE_USER $ETC/config.yaml && sudo chmod 640 $ETC/config.yaml"
    fi
else
    write_private "$ETC/config.yaml" "$default_config"
fi

note "systemd unit"
unit=$(sed "s|/opt/moodbox|$PREFIX|g; s|/etc/moodbox|$ETC|g" "$SRC/systemd/moodbox.service")
if ((DRY_RUN)); then echo "+ write $UNIT_DIR/moodbox.service"; else printf '%s\n' "$unit" > "$UNIT_DIR/moodbox.service"; fi
run systemctl daemon-reload
run systemctl enable mpd.service moodbox.service
run systemctl restart moodbox.service

note "the web page (moodbox-web.service, port 8080 by default: web: in the config)"
# A password of its own, shown this once; only its scrypt hash is stored (root:moodbox 0640).
if [[ ! -e $ETC/web-password ]]; then
    run "$PREFIX/venv/bin/moodbox" --config "$ETC/config.yaml" web --generate-password
fi
unit=$(sed "s|/opt/moodbox|$PREFIX|g; s|/etc/moodbox|$ETC|g" "$SRC/systemd/moodbox-web.service")
if ((DRY_RUN)); then echo "+ write $UNIT_DIR/moodbox-web.service"; else printf '%s\n' "$unit" > "$UNIT_DIR/moodbox-web.service"; fi
run systemctl daemon-reload
run systemctl enable moodbox-web.service
run systemctl restart moodbox-web.service

note "nightly music library scan (moodbox-library.timer)"
# The music tagger and mood head, found by moodbox.music in $PREFIX/models beside the venv.
for name in moodbox-library.service moodbox-library.timer moodbox-library.path; do
    unit=$(sed "s|/opt/moodbox|$PREFIX|g; s|/etc/moodbox|$ETC|g" "$SRC/systemd/$name")
    if ((DRY_RUN)); then echo "+ write $UNIT_DIR/$name"; else printf '%s\n' "$unit" > "$UNIT_DIR/$name"; fi
done
run systemctl daemon-reload
run systemctl enable --now moodbox-library.timer moodbox-library.path
# The first scan at once (idle priority, resumable), so playlists.<mood>: auto has music early.
run systemctl start --no-block moodbox-library.service

note "done"
cat <<EOF
moodbox plays, for each mood, a playlist named after it if MPD has one (mpc save happy), else
the one the nightly library scan writes (moodbox-happy; the first scan has just started:
systemctl status moodbox-library). Then check everything with:
  sudo -u $SERVICE_USER $PREFIX/venv/bin/moodbox --config $ETC/config.yaml check
and follow it with: journalctl -u moodbox -f
The page: http://$(hostname).local:8080/ (the password was shown above; sudo moodbox web --set-password changes it).
EOF
