"""tools/install.sh --dry-run: every action printed, nothing changed; --python-only does the Python step alone."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SCRIPT = ROOT / "tools" / "install.sh"


def dry_run(tmp_path, *extra):
    prefix, etc, units = tmp_path / "opt", tmp_path / "etc", tmp_path / "units"
    args = ["bash", str(SCRIPT), "--dry-run", "--prefix", str(prefix), "--etc", str(etc), "--unit-dir", str(units)]
    result = subprocess.run(args + list(extra), capture_output=True, text=True)
    return result, prefix, etc, units


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    result, prefix, etc, units = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in (
        f"+ python3 -m venv --system-site-packages {prefix}/venv",
        f"+ install -m 644 {ROOT}/models/emotion.tflite {ROOT}/models/emotion.json {ROOT}/models/musicnn.tflite "
        f"{ROOT}/models/musicnn.json {ROOT}/models/music_head.json {prefix}/models/",
        f"+ write {etc}/config.yaml",
        f"+ write {units}/moodbox.service",
        "+ systemctl daemon-reload",
        "+ systemctl enable mpd.service moodbox.service",
        "+ systemctl restart moodbox.service",
    ):
        assert step in out, step
    # The packages: from the hash-checked lock on Bookworm's Python (the arm64 check's chroot), else unpinned.
    locked = f"+ {prefix}/venv/bin/pip install --quiet --require-hashes -r {ROOT}/requirements/pi-bookworm.txt"
    assert locked in out or f"+ {prefix}/venv/bin/pip install --quiet --upgrade {prefix}/src" in out
    assert "useradd --system" in out or "usermod --append --groups video,gpio moodbox" in out
    assert "apt-get install" in out or "all present" in out
    assert not prefix.exists() and not etc.exists() and not units.exists()


def test_an_edited_config_is_never_overwritten(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "config.yaml").write_text("mpd:\n  host: 10.0.0.2\n")
    result, *_ = dry_run(tmp_path)
    assert "edited config kept; the new default is written beside it as config.yaml.new" in result.stdout
    assert f"+ write {etc}/config.yaml.new" in result.stdout
    assert f"+ write {etc}/config.yaml\n" not in result.stdout
    assert (etc / "config.yaml").read_text() == "mpd:\n  host: 10.0.0.2\n"


def test_unknown_option_is_one_line(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT), "--frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == "install.sh: unknown option --frobnicate; see --help\n"


def test_the_config_is_written_private_and_never_chmodded(tmp_path):
    """It holds mpd.password: root:moodbox 640 from the start, and an upgrade leaves an existing file alone."""
    result, _, etc, _ = dry_run(tmp_path)
    assert f"+ write {etc}/config.yaml (root:moodbox 640)" in result.stdout
    assert "chmod" not in result.stdout
    etc.mkdir()
    (etc / "config.yaml").write_text("mpd:\n  password: hunter2\n")
    (etc / "config.yaml").chmod(0o600)
    result, *_ = dry_run(tmp_path)
    assert f"+ write {etc}/config.yaml.new (root:moodbox 640)" in result.stdout
    assert "chmod" not in result.stdout and "every user can read" not in result.stdout
    assert (etc / "config.yaml").stat().st_mode & 0o777 == 0o600


def test_an_old_world_readable_config_is_reported_not_changed(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "config.yaml").write_text("mpd:\n  password: hunter2\n")
    (etc / "config.yaml").chmod(0o644)
    result, *_ = dry_run(tmp_path)
    assert f"warning: every user can read {etc}/config.yaml" in result.stdout
    assert f"sudo chown root:moodbox {etc}/config.yaml && sudo chmod 640 {etc}/config.yaml" in result.stdout
    assert (etc / "config.yaml").stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root, as install.sh does")
def test_write_private_really_writes_640_and_replaces_whole(tmp_path):
    """The function install.sh writes the config with, run for real (group nogroup stands in for moodbox)."""
    import grp

    function = subprocess.run(
        ["sed", "-n", "/^write_private() {/,/^}/p", str(SCRIPT)], capture_output=True, text=True, check=True
    ).stdout
    assert function
    target = tmp_path / "config.yaml"
    target.write_text("old\n")
    script = f'set -euo pipefail\nDRY_RUN=0\nSERVICE_USER=nogroup\n{function}\nwrite_private "$1" "$2"\n'
    subprocess.run(["bash", "-c", script, "bash", str(target), "mpd:\n  password: x"], check=True)
    assert target.read_text() == "mpd:\n  password: x\n"
    info = target.stat()
    assert info.st_mode & 0o777 == 0o640
    assert (info.st_uid, grp.getgrgid(info.st_gid).gr_name) == (0, "nogroup")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def python_only(tmp_path, path_first, env_extra=None):
    """--python-only --dry-run with `path_first` at the head of PATH, so its python3 is the system's."""
    prefix = tmp_path / "opt"
    env = {**os.environ, "PATH": f"{path_first}{os.pathsep}{os.environ['PATH']}", **(env_extra or {})}
    args = ["bash", str(SCRIPT), "--dry-run", "--python-only", "--prefix", str(prefix)]
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout, prefix


def commands(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("+ ")]


def system_numpy(tmp_path, version: str) -> dict[str, str]:
    """PYTHONPATH for a one-line numpy reporting `version`: it stands in for the system's python3-numpy
    (Raspberry Pi OS Bookworm's is 1.24.2, which cannot be installed here); the installer only asks its version."""
    fake = tmp_path / f"numpy-{version}" / "numpy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f'__version__ = "{version}"\n')
    return {"PYTHONPATH": str(fake.parent)}


def test_python_only_on_bookworms_python_installs_the_hash_checked_lock(tmp_path):
    """Raspberry Pi OS Bookworm: Python 3.11 with Debian's numpy 1.24.2. install.sh installed from PyPI as root
    with unpinned versions and no hashes."""
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the lock is for Bookworm's Python 3.11")
    out, prefix = python_only(tmp_path, Path(sys.executable).parent, system_numpy(tmp_path, "1.24.2"))
    assert commands(out) == [
        f"+ install -d -m 755 {prefix} {prefix}/models",
        f"+ install -m 644 {ROOT}/models/emotion.tflite {ROOT}/models/emotion.json {ROOT}/models/musicnn.tflite "
        f"{ROOT}/models/musicnn.json {ROOT}/models/music_head.json {prefix}/models/",
        f"+ rm -rf {prefix}/src",
        f"+ install -d -m 755 {prefix}/src",
        f"+ cp -r {ROOT}/pyproject.toml {ROOT}/README.md {ROOT}/device {prefix}/src/",
        f"+ python3 -m venv --system-site-packages {prefix}/venv",
        f"+ {prefix}/venv/bin/pip install --quiet --require-hashes -r {ROOT}/requirements/pi-bookworm.txt",
        f"+ {prefix}/venv/bin/pip install --quiet --no-deps --no-build-isolation --upgrade {prefix}/src",
    ]
    assert not prefix.exists()


def test_the_lock_pins_every_device_dependency_with_hashes():
    """Every package of the lock is pinned (==) and hashed, and every device dependency is in it."""
    import re
    import tomllib

    lock = (ROOT / "requirements" / "pi-bookworm.txt").read_text()
    pinned: dict[str, str] = {}
    hashes: dict[str, int] = {}
    name = ""
    for line in lock.splitlines():
        if found := re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line):
            name = found.group(1).lower().replace("_", "-")
            pinned[name], hashes[name] = found.group(2), 0
        elif "--hash=sha256:" in line:
            hashes[name] += 1
    assert pinned and all(hashes.values()), hashes
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in pinned, name
    assert pinned["numpy"] == "1.24.2" and pinned["opencv-python-headless"].startswith("4.11.")


def test_python_only_with_numpy_2_pins_numpy_and_leaves_opencv_free(tmp_path):
    out, prefix = python_only(tmp_path, Path(sys.executable).parent, system_numpy(tmp_path, "2.2.4"))
    assert commands(out)[-1] == f"+ {prefix}/venv/bin/pip install --quiet --upgrade {prefix}/src numpy==2.2.4"
    assert "not Raspberry Pi OS Bookworm's" in out and "--require-hashes" not in out


def test_python_only_touches_nothing_outside_the_python_step(tmp_path):
    out, _ = python_only(tmp_path, Path(sys.executable).parent)
    others = ("apt-get", "useradd", "usermod", "groupadd", "systemctl", "config.yaml", "moodbox.service")
    for other in others:
        assert other not in out, other
    assert "== done:" in out


def test_plain_debian_is_named_as_such_and_mpc_is_installed(tmp_path):
    """Off Raspberry Pi OS the dry run says which system it is on and leaves out the Pi-only packages Debian lacks;
    mpc, which moodbox's fix lines name (mpc update, mpc save NAME), is in the apt list everywhere."""
    env = {**os.environ, "MOODBOX_RPI_ISSUE": str(tmp_path / "no-rpi-issue")}
    prefix, etc, units = tmp_path / "opt", tmp_path / "etc", tmp_path / "units"
    args = ["bash", str(SCRIPT), "--dry-run", "--prefix", str(prefix), "--etc", str(etc), "--unit-dir", str(units)]
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert "not Raspberry Pi OS" in first and "Raspberry Pi OS /" not in result.stdout
    apt = next(line for line in result.stdout.splitlines() if "apt-get install" in line or "all present" in line)
    assert " mpc" in apt
    if "skipped" in result.stdout:
        assert "python3-picamera2" not in apt


def test_raspberry_pi_os_is_recognised_by_its_rpi_issue(tmp_path):
    issue = tmp_path / "rpi-issue"
    issue.write_text("Raspberry Pi reference 2024-11-19\n")
    prefix, etc, units = tmp_path / "opt", tmp_path / "etc", tmp_path / "units"
    args = ["bash", str(SCRIPT), "--dry-run", "--prefix", str(prefix), "--etc", str(etc), "--unit-dir", str(units)]
    env = {**os.environ, "MOODBOX_RPI_ISSUE": str(issue)}
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("== Raspberry Pi OS")
