"""`moodbox status` and the control socket (issue 20): asked of a real `moodbox run` on a clip of a real face,
with the real model and a real MPD; commands over the socket have the buttons' effects."""

import json
import socket
import subprocess
import sys
import time

from make_clip import make_clip
from test_service import HAPPY, grey, moodbox, start, write_config

from conftest import ROOT, wait_for
from moodbox.appliance.control import ask


def state_of(cfg) -> dict:
    result = moodbox(cfg, "status", "--json")
    return json.loads(result.stdout) if result.returncode == 0 else {}


def playing(server) -> str:
    c = server.client()
    try:
        return c.currentsong().get("file", "")
    finally:
        c.disconnect()


def test_status_and_the_buttons_commands_over_the_socket(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "happy.avi", [(grey(HAPPY), 60)])
    sock = tmp_path / "run" / "control.sock"
    cfg = write_config(tmp_path, mpd_server, clip, f"control:\n  socket: {sock}\n")
    proc = start(cfg)
    try:
        assert wait_for(lambda: (state_of(cfg).get("song") or "").startswith("happy/"), timeout=60)
        state = state_of(cfg)
        assert state["mood"] == "happy" and state["playlist"] == "happy" and state["why"]
        assert state["camera"]["state"] == "delivering frames" and state["mpd_ok"] and state["policy"] == "match"
        view = state["camera"]["view"]
        assert view["frame"] and view["box"] and 0 < view["face_share"] <= 1 and view["big_enough"]
        assert 0 <= state["camera"]["light"] <= 255 and state["confidence"] > 0.5 and state["mood_since"]
        assert oct(sock.stat().st_mode & 0o777) == "0o660"

        human = moodbox(cfg, "status")
        assert human.returncode == 0 and human.stdout.startswith("mood      happy")

        before = playing(mpd_server)
        assert ask(sock, {"cmd": "skip"}) == {"ok": True}
        assert wait_for(lambda: playing(mpd_server) != before, timeout=10)

        assert ask(sock, {"cmd": "lock", "on": True}) == {"ok": True}
        assert wait_for(lambda: state_of(cfg).get("locked") is True)
        assert ask(sock, {"cmd": "privacy", "on": True}) == {"ok": True}
        assert wait_for(lambda: state_of(cfg).get("camera", {}).get("state") == "off (privacy)")
        assert state_of(cfg)["camera"]["view"]["box"] is None  # nothing of the room while the camera is off
        assert ask(sock, {"cmd": "privacy", "on": False}) == {"ok": True}
        assert wait_for(lambda: state_of(cfg).get("camera", {}).get("state") == "delivering frames", timeout=20)

        assert ask(sock, {"cmd": "policy", "value": "sideways"})["ok"] is False
        assert ask(sock, {"cmd": "format the disk"})["ok"] is False

        flood = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(40)]
        for s in flood:
            s.connect(str(sock))
        try:
            assert proc.poll() is None  # the service lives on; the clients beyond MAX_CLIENTS are turned away
        finally:
            for s in flood:
                s.close()
        assert wait_for(lambda: state_of(cfg).get("mood") == "happy", timeout=10)  # served again once they left
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out and not sock.exists()


def test_status_without_a_service_is_one_line_at_once(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"control:\n  socket: {tmp_path / 'nobody-here.sock'}\n")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "moodbox", "--config", str(cfg), "status"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2 and time.monotonic() - started < 10
    (line,) = result.stderr.splitlines()
    assert "moodbox is not running" in line and "systemctl start moodbox" in line
