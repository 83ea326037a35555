"""A reload while the config file is being rewritten (issue 21, item 9): the running service keeps its config
(its MPD, password and camera) and says so in one line, instead of switching to the defaults."""

import logging
import socket
import threading

from make_clip import make_clip
from test_service import HAPPY, grey

from conftest import ROOT, wait_for


def test_an_empty_or_cut_config_at_reload_keeps_the_running_one(tmp_path, monkeypatch, caplog):
    from moodbox import config
    from moodbox.appliance.service import Service

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens: the player retries, the loop runs on
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 40)])
    path = tmp_path / "moodbox.yaml"
    good = (
        f"camera:\n  source: {clip}\nmpd:\n  host: 127.0.0.1\n  port: {port}\n  password: SECRET\n"
        f"model:\n  path: {ROOT / 'models' / 'emotion.tflite'}\n"
    )
    path.write_text(good)
    service = Service(config.load(path), config_path=path)
    running = service.cfg
    caplog.set_level(logging.INFO, logger="moodbox")
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        assert wait_for(lambda: service.ready, timeout=30)
        for text in ("", good[: good.index("SECRET") + 2]):
            path.write_text(text)
            caplog.clear()
            service.reload_requested.set()
            assert wait_for(lambda: "reload:" in caplog.text, timeout=10), caplog.text
            errors = [r.getMessage() for r in caplog.records if "reload:" in r.getMessage()]
            assert len(errors) == 1 and "previous config" in errors[0] and "\n" not in errors[0], errors
            assert service.cfg is running and service.cfg.mpd.password == "SECRET"
    finally:
        service.stop()
        runner.join(20)
    assert not runner.is_alive()
