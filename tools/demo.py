"""The whole moodbox loop on this machine, no Pi needed.

Starts a private MPD on loopback with a small generated library (one playlist
per mood), builds a 640x480 clip from real faces (neutral, then happy, then
sad, 10 s each), and runs the real `moodbox run` on it in real time. Prints
moodbox's own log beside what MPD is playing, then cleans everything up.

    python tools/demo.py            # what `make demo` runs
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import mpd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_clip import make_clip  # noqa: E402
from mpd_sandbox import MpdSandbox  # noqa: E402

FACES = HERE.parent / "tests" / "fixtures" / "faces"
SCRIPT = (("neutral", "fer2013_row34903.png"), ("happy", "fer2013_row35200.png"), ("sad", "fer2013_row34233.png"))


def watch_mpd(sandbox: MpdSandbox, stop: threading.Event, played: list[str]) -> None:
    """Print each song MPD starts, as a listener would hear it (a dropped connection is made again)."""
    client, last = None, None
    while not stop.is_set():
        try:
            client = client or sandbox.client()
            song = client.currentsong().get("file") if client.status().get("state") == "play" else None
        except (mpd.MPDError, OSError):  # MPD busy past the client's timeout on a loaded machine
            client, song = None, None
        if song and song != last:
            print(f"{time.strftime('%H:%M:%S')} ♪  MPD plays {song}", flush=True)
            played.append(song.split("/")[0])
            last = song
        stop.wait(0.2)
    if client is not None:
        client.disconnect()


def main() -> int:
    with MpdSandbox(songs_per_mood=3, song_seconds=6) as sandbox:
        faces = [(cv2.imread(str(FACES / mood / name), cv2.IMREAD_GRAYSCALE), 10.0) for mood, name in SCRIPT]
        clip = make_clip(sandbox.root / "faces.avi", faces)
        config = sandbox.root / "demo.yaml"
        config.write_text(
            f"model:\n  path: {HERE.parent / 'models' / 'emotion.tflite'}\n"
            f"camera:\n  source: {clip}\n"
            f"mpd:\n  host: 127.0.0.1\n  port: {sandbox.port}\n  transition: now\n"
            f"history:\n  path: {sandbox.root / 'history.sqlite'}\n"
        )
        print(f"private MPD on 127.0.0.1:{sandbox.port}, one playlist per mood; clip: neutral, happy, sad (10 s each)")
        print("running: moodbox --config demo.yaml run  (real time, about 30 s)\n", flush=True)
        stop, played = threading.Event(), []
        watcher = threading.Thread(target=watch_mpd, args=(sandbox, stop, played), daemon=True)
        watcher.start()
        result = subprocess.run([sys.executable, "-m", "moodbox", "--config", str(config), "run"])
        stop.set()
        watcher.join(timeout=5)
    order = [mood for i, mood in enumerate(played) if i == 0 or played[i - 1] != mood]
    print(f"\nplaylists played, in order: {' -> '.join(order) or 'none'}")
    return result.returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: moodbox and MPD got it too; the sandbox's with-block has cleaned up
        print("\ndemo stopped (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
