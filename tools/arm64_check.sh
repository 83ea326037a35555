#!/usr/bin/env bash
# The arm64 check: moodbox on the Pi's own software stack, under qemu-user on an x86 Debian 12 host.
#
#   sudo make arm64-check                         # Pi 4 and Pi 5 cores (tools/arm64_check.sh)
#   sudo tools/arm64_check.sh --cores cortex-a76 --full-suite none
#
# An arm64 Debian 12 (Bookworm) root filesystem with Debian's python3 3.11.2 and numpy 1.24.2, the
# stack Raspberry Pi OS ships, is built once with mmdebstrap and cached as a tarball. For each core
# (cortex-a72 = Pi 4, cortex-a76 = Pi 5) a fresh copy of it gets this checkout and then: installs
# moodbox with tools/install.sh --python-only (the installer itself, not a copy of its steps);
# checks that LiteRT reads the emulated CPU; runs `moodbox classify` on the fixture faces and
# `moodbox watch` on a clip and compares both with the x86 run (tools/arm64_compare.py: same
# labels and decisions, probabilities within 0.01); runs the test suite. Results, logs and stage
# timings go to reports/arm64/. Emulation is 15-110x slower than a Pi: its timings say nothing
# about one.
set -Eeuo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
CACHE=${MOODBOX_ARM64_CACHE:-/var/cache/moodbox-arm64}
REPORT=$SRC/reports/arm64
X86_PYTHON=$SRC/.venv/bin/python
MIRROR=http://deb.debian.org/debian
SUITE=bookworm
ROOTFS_PACKAGES=(python3 python3-numpy python3-venv python3-pip ca-certificates mpd libsndfile1 systemd)
HOST_PACKAGES=(qemu-user-static binfmt-support mmdebstrap)
CORES=(cortex-a72 cortex-a76)
FULL_SUITE=none
# The tests that touch what differs on ARM: decoding (video and audio), OpenCV, both models, the mood engine on clips,
# the command line, config and the installer. The full suite (--full-suite CORE) adds MPD, the
# service, buttons, systemd and the model's PrivateTest accuracy, and takes hours under emulation.
SUBSET=(tests/test_emotion.py tests/test_faces.py tests/test_camera.py tests/test_watch.py tests/test_mood.py
    tests/test_cli.py tests/test_config.py tests/test_install.py tests/test_audio.py tests/test_tagger.py)
KEEP=0
# The clip both machines watch (tools/make_clip.py IMAGE:SECONDS): four moods and an empty room.
FACES=tests/fixtures/faces
CLIP=("$FACES/neutral/fer2013_row33563.png:5" "$FACES/happy/fer2013_row35200.png:6" absent:9
    "$FACES/sad/fer2013_row34233.png:6" "$FACES/surprise/fer2013_row32780.png:5")

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    cat <<EOF
options:
  --cores "A B"        emulated cores (default: ${CORES[*]})
  --full-suite CORE    the core that runs the whole test suite; the others run a subset
                       (default $FULL_SUITE; "all" or "none")
  --subset "FILES"     the other cores' test files (default: ${SUBSET[*]})
  --cache DIR          rootfs tarball, pip cache and chroots (default $CACHE; or MOODBOX_ARM64_CACHE)
  --keep               keep each core's chroot for a look inside afterwards
EOF
}

while (($#)); do
    case "$1" in
        --cores) read -r -a CORES <<<"${2//,/ }"; shift ;;
        --full-suite) FULL_SUITE=$2; shift ;;
        --subset) read -r -a SUBSET <<<"$2"; shift ;;
        --cache) CACHE=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "arm64_check.sh: unknown option $1; see --help" >&2; exit 2 ;;
    esac
    shift
done

step() { echo; echo "== [$(date +%T)] $*"; }
fail() { echo "arm64-check FAILED: $*" >&2; exit 1; }

# Stage timings, printed at the end (and on failure) and kept in reports/arm64/timings.txt.
TIMINGS=()
STAGE_NAME="" STAGE_START=0
stage() {
    stage_end
    STAGE_NAME=$1 STAGE_START=$SECONDS
    step "$1"
}
stage_end() {
    if [[ -n "$STAGE_NAME" ]]; then TIMINGS+=("$(printf '%-58s %6d s' "$STAGE_NAME" $((SECONDS - STAGE_START)))"); fi
    STAGE_NAME=""
}

# Every mount made here is undone on exit, newest first, whatever the exit.
MOUNTS=()
ROOT_DIR=""
bind() {  # bind SOURCE TARGET [ro]
    if [[ -d "$1" ]]; then mkdir -p "$2"; elif [[ ! -e "$2" ]]; then mkdir -p "$(dirname "$2")" && touch "$2"; fi
    mount --bind "$1" "$2"
    MOUNTS+=("$2")
    if [[ "${3:-}" == ro ]]; then mount -o remount,bind,ro "$2"; fi
}

chroot_processes() {  # pids of processes whose root is the chroot (an MPD a test left behind)
    local root=$1 link pid
    for link in /proc/[0-9]*/root; do
        pid=${link#/proc/}; pid=${pid%/root}
        [[ "$(readlink "$link" 2>/dev/null)" == "$root" ]] && echo "$pid"
    done
    return 0
}

unmount_all() {
    local i pids
    if [[ -n "$ROOT_DIR" ]]; then
        pids=$(chroot_processes "$ROOT_DIR")
        # shellcheck disable=SC2086  # one pid per word
        if [[ -n "$pids" ]]; then kill $pids 2>/dev/null || true; sleep 1; fi
    fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
}

# A chroot left by a run that was killed: unmount what is still mounted under it, then remove it.
# rm --one-file-system never follows a mount that is somehow still there (/dev, /sys).
remove_chroot() {
    local root=$1 target
    [[ -e "$root" ]] || return 0
    findmnt -rn -o TARGET | awk -v r="$root/" 'index($0, r) == 1' | sort -r | while read -r target; do
        umount -R -l "$target" || true
    done
    if findmnt -rn -o TARGET | awk -v r="$root/" 'index($0, r) == 1' | grep -q .; then
        fail "$root still has mounts under it; unmount them (findmnt | grep $root) and run again"
    fi
    rm -rf --one-file-system "$root"
}

report_timings() {
    stage_end
    ((${#TIMINGS[@]})) || return 0
    echo
    echo "== stage timings (emulated; they say nothing about a Pi)"
    printf '%s\n' "${TIMINGS[@]}" | tee "$REPORT/timings.txt"
    printf '%-58s %6d s\n' "total" "$SECONDS" | tee -a "$REPORT/timings.txt"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    unmount_all
    if [[ -n "$ROOT_DIR" ]] && ((!KEEP)); then remove_chroot "$ROOT_DIR"; fi
    report_timings || true
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "arm64-check FAILED: line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

# /proc/cpuinfo as a Pi shows it. qemu-user passes the host's x86 one through, and LiteRT's cpuinfo
# then crashes (or, with the wrong core's part number, picks kernels the emulated core lacks: SIGILL).
pi_cpuinfo() {
    local core=$1 variant part revision features n
    case "$core" in
        cortex-a72) variant=0x0 part=0xd08 revision=3 features="fp asimd evtstrm crc32 cpuid" ;;
        cortex-a76) variant=0x4 part=0xd0b revision=1
            features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
        *) fail "no Pi cpuinfo for core $core; use cortex-a72 (Pi 4) or cortex-a76 (Pi 5)" ;;
    esac
    for ((n = 0; n < $(nproc --all); n++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$n" "$features"
        printf 'CPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' "$variant" "$part" "$revision"
    done
}

# The emulated core as the kernel's auxiliary vector shows it to a program (qemu fills it in):
# no SVE or SME (qemu's default "max" core offers SME, and the int8 model then returns a constant),
# and dot-product instructions exactly where the named core has them.
CPU_PROBE='
import struct, sys
aux = dict(struct.iter_unpack("<QQ", open("/proc/self/auxv", "rb").read()))
hwcap, hwcap2 = aux.get(16, 0), aux.get(26, 0)
sve, sme, dotprod = bool(hwcap >> 22 & 1), bool(hwcap2 >> 23 & 1), bool(hwcap >> 20 & 1)
want_dotprod = sys.argv[1] == "cortex-a76"
print(f"emulated core: sve={sve} sme={sme} dotprod={dotprod}")
sys.exit(0 if not sve and not sme and dotprod == want_dotprod else 1)
'

# One LiteRT invoke with its native stderr left alone (moodbox mutes it), to see cpuinfo's complaints.
LITERT_PROBE='
import numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path="models/emotion.tflite", num_threads=1)
it.allocate_tensors()
inp, out = it.get_input_details()[0], it.get_output_details()[0]
it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
it.invoke()
print("raw LiteRT output on a blank face:", it.get_tensor(out["index"])[0].tolist())
'

in_chroot() {  # in_chroot CORE COMMAND...: run in the chroot with a clean environment and the named core
    local core=$1
    shift
    QEMU_CPU=$core chroot "$ROOT_DIR" /usr/bin/env -i QEMU_CPU="$core" HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PIP_CERT=/etc/ssl/certs/host-ca.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=120 \
        ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
        ${no_proxy:+no_proxy=$no_proxy} "$@"
}

FAILURES=()
check_core() {
    local core=$1 out=$REPORT/$1 root=$CACHE/chroots/$1 tests rc summary
    mkdir -p "$out"
    rm -f "$out"/*

    stage "$core: fresh chroot from the cached rootfs"
    remove_chroot "$root"
    mkdir -p "$root"
    ROOT_DIR=$root
    tar -xf "$ROOTFS" -C "$root"
    mkdir -p "$root/src"
    git -c safe.directory="$SRC" ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$root/src"
    cp "$REPORT/clip.avi" "$root/tmp/clip.avi"
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf /etc/hosts "$root/etc/"
    # The host's CA bundle: pip in the chroot must trust whatever the host trusts (a TLS-inspecting
    # proxy's CA included); Debian's own bundle is in it too.
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca.crt"
    pi_cpuinfo "$core" >"$CACHE/chroots/cpuinfo-$core"
    mount -t proc proc "$root/proc"
    MOUNTS+=("$root/proc")
    bind "$CACHE/chroots/cpuinfo-$core" "$root/proc/cpuinfo" ro
    bind /sys "$root/sys" ro  # LiteRT's cpuinfo reads the processor lists there
    mkdir -p "$root/dev"
    mount --rbind /dev "$root/dev"
    mount --make-rslave "$root/dev"
    MOUNTS+=("$root/dev")
    mkdir -p "$CACHE/pip"
    bind "$CACHE/pip" "$root/root/.cache/pip"
    if [[ "$core" == "$FULL_SUITE" || "$FULL_SUITE" == all ]] && [[ -f "$SRC/../shared/data/fer2013/fer2013.npz" ]]; then
        bind "$SRC/../shared/data/fer2013" "$root/shared/data/fer2013" ro  # the accuracy test's data
    fi

    stage "$core: emulated CPU and software stack"
    in_chroot "$core" python3 -c "$CPU_PROBE" "$core" | tee "$out/cpu.txt" ||
        fail "qemu does not emulate $core as asked (QEMU_CPU ignored?); see $out/cpu.txt"
    grep -m1 'CPU part' "$root/proc/cpuinfo" | tee -a "$out/cpu.txt" ||
        fail "the chroot's /proc/cpuinfo is not the Pi's one bound over it (mounts above)"
    in_chroot "$core" python3 -c 'import platform, sys, numpy
print(f"{platform.machine()} Python {sys.version.split()[0]} numpy {numpy.__version__}")' | tee -a "$out/cpu.txt"

    stage "$core: tools/install.sh --python-only"
    if ! in_chroot "$core" bash /src/tools/install.sh --python-only --prefix /opt/moodbox >"$out/install.log" 2>&1; then
        tail -20 "$out/install.log" >&2
        fail "$core: tools/install.sh --python-only failed; log: $out/install.log"
    fi
    cat "$out/install.log"
    in_chroot "$core" /opt/moodbox/venv/bin/python -m pip list 2>/dev/null |
        grep -iE '^(numpy|opencv-python-headless|ai-edge-litert|python-mpd2|gpiozero|PyYAML) ' | tee "$out/packages.txt"

    stage "$core: raw LiteRT invoke (stderr not muted)"
    # shellcheck disable=SC2016  # $1 is the inner shell's, the probe's code
    in_chroot "$core" bash -c 'cd /src && exec /opt/moodbox/venv/bin/python -c "$1"' probe "$LITERT_PROBE" \
        2>"$out/litert.stderr" ||
        { cat "$out/litert.stderr" >&2; fail "$core: LiteRT cannot run the model; see $out/litert.stderr"; }
    cat "$out/litert.stderr"
    if grep -q "Error in cpuinfo" "$out/litert.stderr"; then
        fail "$core: LiteRT could not read the CPU ('Error in cpuinfo' above): it falls back to other kernels \
silently; /sys and /proc/cpuinfo must be mounted in the chroot"
    fi

    stage "$core: moodbox classify and watch, compared with x86"
    in_chroot "$core" bash -c 'cd /src && /opt/moodbox/venv/bin/moodbox classify --whole tests/fixtures/faces/*/*.png' \
        >"$out/classify.jsonl" || FAILURES+=("$core: moodbox classify failed")
    in_chroot "$core" bash -c 'cd /src && /opt/moodbox/venv/bin/moodbox watch /tmp/clip.avi' \
        >"$out/watch.jsonl" || FAILURES+=("$core: moodbox watch failed")
    for what in classify watch; do
        "$X86_PYTHON" "$SRC/tools/arm64_compare.py" "$what" "$REPORT/x86/$what.jsonl" "$out/$what.jsonl" \
            --name "arm64 $core" | tee "$out/$what.compare" || FAILURES+=("$core: $what differs from x86")
    done

    if [[ "$core" == "$FULL_SUITE" || "$FULL_SUITE" == all ]]; then
        tests=() summary="full test suite"
    else
        tests=("${SUBSET[@]}") summary="test subset (${#SUBSET[@]} files)"
    fi
    stage "$core: $summary"
    in_chroot "$core" /opt/moodbox/venv/bin/pip install --quiet pytest >>"$out/install.log" 2>&1 ||
        fail "$core: cannot install pytest; log: $out/install.log"
    rc=0
    in_chroot "$core" bash -c 'cd /src && exec /opt/moodbox/venv/bin/python -m pytest -q -p no:cacheprovider -ra "$@"' \
        pytest "${tests[@]}" >"$out/pytest.log" 2>&1 || rc=$?
    grep -E '^(SKIPPED|FAILED|ERROR) ' "$out/pytest.log" || true
    tail -1 "$out/pytest.log" | tee "$out/pytest.summary"
    ((rc == 0)) || FAILURES+=("$core: tests failed ($(cat "$out/pytest.summary")); log: $out/pytest.log")

    stage_end
    unmount_all
    if ((!KEEP)); then remove_chroot "$root"; fi
    ROOT_DIR=""
}

# ---------------------------------------------------------------------------------------------------

# One function, parsed whole before it runs: editing this file during a run cannot derail it.
main() {
    [[ $EUID -eq 0 ]] || fail "run as root (sudo make arm64-check): it installs packages, mounts and chroots"
    [[ "$(uname -m)" == x86_64 ]] || fail "meant for an x86_64 Debian 12 host (this is $(uname -m))"
    [[ -x "$X86_PYTHON" ]] || fail "no x86 venv at $X86_PYTHON; run make setup first"
    command -v git >/dev/null || fail "git is needed to copy this checkout into the chroot"
    for core in "${CORES[@]}"; do pi_cpuinfo "$core" >/dev/null; done
    mkdir -p "$REPORT" "$CACHE/chroots"
    exec 9>"$CACHE/lock"
    flock -n 9 || fail "another arm64 check is running (it holds $CACHE/lock)"

    stage "host: qemu-user-static, binfmt-support, mmdebstrap"
    missing=()
    for pkg in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "all present: ${HOST_PACKAGES[*]}"
    fi
    mountpoint -q /proc/sys/fs/binfmt_misc || mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc ||
        fail "cannot mount binfmt_misc (in a container? it needs the host's binfmt_misc)"
    [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64 ||
        fail "cannot register qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64)"
    [[ "$(head -1 /proc/sys/fs/binfmt_misc/qemu-aarch64)" == enabled ]] || update-binfmts --enable qemu-aarch64
    # F: the kernel opens qemu when it is registered, so the chroot needs no qemu binary of its own.
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
        fail "qemu-aarch64 is registered without the F flag (by another package?): run update-binfmts \
--disable qemu-aarch64, then --enable qemu-aarch64 (qemu-user-static's entry has the flag)"
    grep -E '^(interpreter|flags)' /proc/sys/fs/binfmt_misc/qemu-aarch64

    stage "rootfs: Debian $SUITE arm64 (cached tarball)"
    key=$(printf '%s\n' "$SUITE" "$MIRROR" "${ROOTFS_PACKAGES[@]}" | sha256sum | cut -c1-12)
    ROOTFS=$CACHE/$SUITE-arm64-$key.tar
    if [[ -f "$ROOTFS" ]]; then
        echo "cached: $ROOTFS"
    else
        echo "building $ROOTFS with mmdebstrap (${ROOTFS_PACKAGES[*]}); about 5 minutes, log $CACHE/mmdebstrap.log"
        if ! mmdebstrap --arch=arm64 --variant=apt --format=tar --include="$(
            IFS=,
            echo "${ROOTFS_PACKAGES[*]}"
        )" "$SUITE" "$ROOTFS.partial" "$MIRROR" >"$CACHE/mmdebstrap.log" 2>&1; then
            tail -20 "$CACHE/mmdebstrap.log" >&2
            rm -f "$ROOTFS.partial"
            fail "mmdebstrap could not build the rootfs; log: $CACHE/mmdebstrap.log"
        fi
        mv "$ROOTFS.partial" "$ROOTFS"
    fi

    stage "x86 reference: clip, moodbox classify and watch"
    mkdir -p "$REPORT/x86"
    "$X86_PYTHON" tools/make_clip.py "$REPORT/clip.avi" "${CLIP[@]}"
    "$SRC/.venv/bin/moodbox" classify --whole tests/fixtures/faces/*/*.png >"$REPORT/x86/classify.jsonl"
    "$SRC/.venv/bin/moodbox" watch "$REPORT/clip.avi" | tee "$REPORT/x86/watch.jsonl"

    for core in "${CORES[@]}"; do
        check_core "$core"
    done
    stage_end

    step "summary"
    for core in "${CORES[@]}"; do
        printf '%s: %s\n' "$core" "$(grep -h '' "$REPORT/$core/packages.txt" 2>/dev/null | awk '{printf "%s %s  ", $1, $2}')"
        cat "$REPORT/$core/classify.compare" "$REPORT/$core/watch.compare" 2>/dev/null | grep -v '^  ' || true
        echo "  tests: $(cat "$REPORT/$core/pytest.summary" 2>/dev/null)"
    done
    if ((${#FAILURES[@]})); then
        printf 'arm64-check FAILED: %s\n' "${FAILURES[@]}" >&2
        exit 1
    fi
    echo "arm64-check passed for ${CORES[*]}"
}

main
