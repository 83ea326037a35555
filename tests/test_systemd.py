"""The systemd unit: `systemd-analyze verify` clean and an exposure of at most 2.0."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from moodbox.appliance.network import UNIT_ALLOWS

UNIT = ROOT / "systemd" / "moodbox.service"
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_verify_is_clean(tmp_path):
    """verify also checks that ExecStart exists, so the copy points at this checkout's moodbox."""
    moodbox = Path(sys.executable).parent / "moodbox"
    unit = tmp_path / "moodbox.service"
    unit.write_text(UNIT.read_text().replace("/opt/moodbox/venv/bin/moodbox", str(moodbox)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_exposure_is_at_most_2():
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for moodbox.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_the_unit_promises_what_the_service_does():
    s = unit_settings()
    assert s["Type"] == ["notify"] and s["Restart"] == ["on-failure"]
    assert int(s["WatchdogSec"][0]) >= 10 and s["StartLimitBurst"] and s["StartLimitIntervalSec"]
    assert s["User"] == ["moodbox"] and set(s["SupplementaryGroups"][0].split()) == {"video", "gpio"}
    assert s["DevicePolicy"] == ["closed"]
    allowed = {d.split()[0] for d in s["DeviceAllow"]}
    assert allowed == {"char-video4linux", "char-media", "char-dma_heap", "char-gpiochip"}
    assert s["IPAddressAllow"] == [UNIT_ALLOWS] and s["ProtectSystem"] == ["strict"]  # what check tests against
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # SIGHUP: the service re-reads its config


def test_the_default_history_lives_in_the_services_only_writable_state_directory():
    from moodbox.history.settings import HistorySettings

    s = unit_settings()
    assert s["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in s
    assert HistorySettings().path.parent == Path("/var/lib") / s["StateDirectory"][0]
    assert s["StateDirectoryMode"] == ["0750"]  # the moods of a household: not for every user of the Pi


LIBRARY_UNIT = ROOT / "systemd" / "moodbox-library.service"
LIBRARY_TIMER = ROOT / "systemd" / "moodbox-library.timer"


def settings_of(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_library_timer_and_service_verify_clean(tmp_path):
    moodbox = Path(sys.executable).parent / "moodbox"
    service, timer = tmp_path / LIBRARY_UNIT.name, tmp_path / LIBRARY_TIMER.name
    service.write_text(LIBRARY_UNIT.read_text().replace("/opt/moodbox/venv/bin/moodbox", str(moodbox)))
    timer.write_text(LIBRARY_TIMER.read_text())
    result = subprocess.run(["systemd-analyze", "verify", str(service), str(timer)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_library_service_exposure_is_at_most_2():
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(LIBRARY_UNIT)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for moodbox-library.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_both_units_bound_memory_and_tasks():
    """A hostile media file or clip may ask for gigabytes: the unit's cgroup stops it, not the Pi."""
    for unit in (UNIT, LIBRARY_UNIT):
        s = settings_of(unit)
        assert s["MemoryMax"] and s["MemoryMax"][0].endswith("M") and int(s["MemoryMax"][0][:-1]) <= 1024, unit
        assert s["TasksMax"] and int(s["TasksMax"][0]) <= 128, unit


def test_library_service_scans_then_writes_playlists_at_idle_priority_reading_only():
    from moodbox.music.library import LibrarySettings

    s = settings_of(LIBRARY_UNIT)
    assert s["Type"] == ["oneshot"] and s["User"] == ["moodbox"]
    assert [cmd.split(" library ")[1] for cmd in s["ExecStart"]] == ["scan", "playlists"]
    assert s["Nice"] == ["19"] and s["IOSchedulingClass"] == ["idle"] and s["CPUSchedulingPolicy"] == ["idle"]
    # Only the state directory is writable, and the default cache lives there.
    assert s["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in s
    assert LibrarySettings().cache.parent == Path("/var/lib") / s["StateDirectory"][0]
    assert s["IPAddressAllow"] == [UNIT_ALLOWS]
    t = settings_of(LIBRARY_TIMER)
    assert t["OnCalendar"] and t["Persistent"] == ["true"] and t["WantedBy"] == ["timers.target"]


WEB_UNIT = ROOT / "systemd" / "moodbox-web.service"


def test_web_unit_verifies_and_is_hardened(tmp_path):
    moodbox = Path(sys.executable).parent / "moodbox"
    unit = tmp_path / "moodbox-web.service"
    unit.write_text(WEB_UNIT.read_text().replace("/opt/moodbox/venv/bin/moodbox", str(moodbox)))
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(WEB_UNIT)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for moodbox-web.service: ([0-9.]+)", result.stdout)
    assert match and float(match.group(1)) <= 2.0, result.stdout
    s = settings_of(WEB_UNIT)
    assert s["User"] == ["moodbox"] and s["PrivateDevices"] == ["yes"] and "SupplementaryGroups" not in s
    assert s["IPAddressAllow"] == [UNIT_ALLOWS] and s["ExecStart"][0].endswith(" web")


def test_the_pages_scan_request_starts_the_library_unit(tmp_path):
    """The page asks for a scan by writing in the state folder; the path unit starts the scan's own unit."""
    from moodbox.music.library import LibrarySettings
    from moodbox.music.scan_progress import request_path

    path_unit = ROOT / "systemd" / "moodbox-library.path"
    for name in ("moodbox-library.service", "moodbox-library.path"):
        text = (ROOT / "systemd" / name).read_text()
        (tmp_path / name).write_text(
            text.replace("/opt/moodbox/venv/bin/moodbox", str(Path(sys.executable).parent / "moodbox"))
        )
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "moodbox-library.path")], capture_output=True, text=True
    )
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
    s = settings_of(path_unit)
    assert s["PathModified"] == [str(request_path(LibrarySettings().cache))] and s["Unit"] == [
        "moodbox-library.service"
    ]
