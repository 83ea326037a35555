"""A camera Pi steering the MPD of another box (issue 20): the unit reaches the local network, and `moodbox
check`, run by hand where nothing filters it, says when the unit would not let the service reach MPD."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from moodbox.appliance.network import blocked_addresses

FACES = ROOT / "tests" / "fixtures" / "faces" / "happy"


def test_only_addresses_outside_this_machine_and_the_lan_are_blocked():
    assert blocked_addresses("localhost", 6600) == []
    assert blocked_addresses("/run/mpd/socket", 0) == []
    assert blocked_addresses("192.168.1.20", 6600) == [] and blocked_addresses("10.1.2.3", 6600) == []
    assert blocked_addresses("fe80::1", 6600) == [] and blocked_addresses("fd12::5", 6600) == []
    assert blocked_addresses("198.51.100.7", 6600) == ["198.51.100.7"]
    assert blocked_addresses("no-such-host.invalid", 6600) == []  # connecting says it


@pytest.mark.skipif(os.geteuid() != 0, reason="adds addresses to the loopback interface: needs root")
@pytest.mark.parametrize(("address", "blocked"), [("192.168.250.7", False), ("198.51.100.7", True)])
def test_check_names_the_drop_in_when_the_unit_would_block_mpd(tmp_path, address, blocked):
    from mpd_sandbox import MpdSandbox

    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    try:
        with MpdSandbox(songs_per_mood=1, song_seconds=1, address=address) as server:
            cfg = tmp_path / "c.yaml"
            cfg.write_text(f"camera:\n  source: {FACES}\nmpd:\n  host: {address}\n  port: {server.port}\n")
            result = subprocess.run(
                [sys.executable, "-m", "moodbox", "--config", str(cfg), "check"], capture_output=True, text=True
            )
    finally:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=True)
    (line,) = [line for line in result.stdout.splitlines() if " mpd: " in line]
    if blocked:
        assert line.startswith("FAIL mpd: MPD at") and "answers here" in line
        assert "sudo systemctl edit moodbox" in line and f"IPAddressAllow={address}" in line
    else:
        assert line.startswith("OK   mpd:"), line
