"""A private, real MPD on loopback with a small generated music library: for the demo and the tests.

Each mood gets a playlist `<mood>` of a few songs under `music/<mood>/`. The
songs are real WAV files, a chord per mood so they are told apart by ear,
written with the standard library, so nothing beyond `mpd` itself is needed.
MPD plays them into a `null` output: the queue, the timing and the songs
advance exactly as on a Pi with speakers. MPD's buffer is set to its least
(128 KiB, under 1.5 s of these songs), so its decoder reaches the next song
near the end of the playing one, as with real tracks: with the whole song in
the buffer it opens the queued song at once, and Debian 12's MPD 0.23.12 can
deadlock when a `next` meets that (a test's skip right after a song starts).

    with MpdSandbox(song_seconds=8) as mpd:
        print(mpd.port)

For the hostile cases: `password=` and `default_permissions=` (written to
mpd.conf at each start(), so a test can change them and restart MPD),
`remove_song()` (a tidied library under a stored playlist), `write_playlist()`,
`kill()` / `start()` (a crash and a restart on the same port), and `frozen()`
(a hung MPD). Tests poll what plays with `current_file()`, a fresh connection
each time (see there why).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

MOODS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Root note (Hz) and chord per mood: major for happy, minor for sad, and so on.
CHORDS = {
    "angry": (110.0, (0, 6, 12)),
    "disgust": (123.5, (0, 1, 7)),
    "fear": (146.8, (0, 3, 6)),
    "happy": (261.6, (0, 4, 7)),
    "sad": (196.0, (0, 3, 7)),
    "surprise": (329.6, (0, 4, 8)),
    "neutral": (220.0, (0, 7, 12)),
}
RATE = 44100  # CD rate: a few seconds of a song outlast MPD's least buffer, as real tracks do


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_song(path: Path, root: float, intervals: tuple[int, ...], seconds: float, variant: int) -> None:
    """A mono 44.1 kHz WAV: the mood's chord, one step higher per variant so each song sounds different."""
    t = np.arange(int(seconds * RATE)) / RATE
    fade = np.minimum(1.0, np.minimum(t * 4, (seconds - t) * 4))
    chord = sum(np.sin(2 * np.pi * root * 2 ** ((i + variant) / 12) * t) for i in intervals) / len(intervals)
    samples = (12000 * fade * chord).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def make_library(root: Path, songs_per_mood: int = 3, song_seconds: float = 8.0) -> None:
    """music/<mood>/<mood>-<n>.wav and playlists/<mood>.m3u under root."""
    music, playlists = root / "music", root / "playlists"
    playlists.mkdir(parents=True, exist_ok=True)
    for mood in MOODS:
        (music / mood).mkdir(parents=True, exist_ok=True)
        base, chord = CHORDS[mood]
        entries = []
        for n in range(1, songs_per_mood + 1):
            name = f"{mood}/{mood}-{n}.wav"
            write_song(music / name, base, chord, song_seconds, variant=n - 1)
            entries.append(name)
        (playlists / f"{mood}.m3u").write_text("\n".join(entries) + "\n")


class MpdSandbox:
    """Starts `mpd --no-daemon` on a free loopback port in a temporary folder; stop() removes it all."""

    def __init__(
        self,
        songs_per_mood: int = 3,
        song_seconds: float = 8.0,
        password: str = "",
        default_permissions: str | None = None,
        address: str = "127.0.0.1",
    ) -> None:
        """password: MPD then demands it (it grants read,add,control,admin); default_permissions: what a
        client gets before (or without) a password, e.g. "" (nothing) or "read" (MPD's own default is
        everything without a password line, nothing with one). Both are read again by each start()."""
        if shutil.which("mpd") is None:
            raise RuntimeError("mpd is not installed; apt-get install -y mpd")
        self.root = Path(tempfile.mkdtemp(prefix="moodbox-mpd-"))
        self.port = free_port()
        self.password = password
        self.default_permissions = default_permissions
        self.address = address  # where MPD listens and clients connect
        make_library(self.root, songs_per_mood, song_seconds)
        self.conf = self.root / "mpd.conf"
        self._process: subprocess.Popen[bytes] | None = None

    def _write_conf(self) -> None:
        auth = f'password "{self.password}@read,add,control,admin"\n' if self.password else ""
        if self.default_permissions is not None:
            auth += f'default_permissions "{self.default_permissions}"\n'
        self.conf.write_text(
            f'music_directory "{self.root / "music"}"\n'
            f'playlist_directory "{self.root / "playlists"}"\n'
            f'db_file "{self.root / "database"}"\n'
            f'log_file "{self.root / "log"}"\n'
            f'bind_to_address "{self.address}"\n'
            f'port "{self.port}"\n'
            'auto_update "no"\n'
            'audio_buffer_size "128"\n'  # KiB, MPD's least: see the module's docstring
            f"{auth}"
            'audio_output {\n  type "null"\n  name "null"\n  mixer_type "software"\n}\n'
        )

    def start(self) -> MpdSandbox:
        self._write_conf()
        self._process = subprocess.Popen(
            ["mpd", "--no-daemon", "--stderr", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mpd exited with {self._process.returncode}; see {self.root / 'log'}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("mpd did not start listening within 15 s")
        self.update()
        return self

    def write_playlist(self, name: str, songs: list[str]) -> None:
        """Store playlist `name` naming `songs` (paths under music/, or names of files that do not exist)."""
        (self.root / "playlists" / f"{name}.m3u").write_text("".join(f"{song}\n" for song in songs))

    def remove_song(self, song: str) -> None:
        """Delete a song from the library and MPD's database; stored playlists still name it (a tidied library)."""
        (self.root / "music" / song).unlink()
        self.update()

    def edit_playlists(self, rename: dict[str, str] | None = None, remove: tuple[str, ...] | list[str] = ()) -> None:
        """What a person (mpc) or `moodbox library playlists` does to MPD's stored playlists, through MPD."""
        c = self.client()
        try:
            for old, new in (rename or {}).items():
                c.rename(old, new)
            for name in remove:
                c.rm(name)
        finally:
            c.disconnect()

    def client(self, timeout: float = 5.0):
        import mpd

        c = mpd.MPDClient()
        c.timeout = timeout
        c.connect(self.address, self.port)
        if self.password:
            c.password(self.password)
        return c

    def current_file(self, timeout: float = 2.0) -> str:
        """The song MPD plays now ("" if none, or no answer), asked on a fresh connection: for a test to poll.

        Debian 12's MPD 0.23.12, on a busy machine, can leave one connection's command unanswered while it
        answers new connections at once (seen in a test: `ss` showed the command read and only the hello and
        one OK sent, for a minute). The appliance reconnects after `mpd.timeout` for that reason; a test that
        polls one long-lived connection would wait on it for ever, so each poll here has its own."""
        import mpd

        try:
            c = self.client(timeout)
        except (OSError, mpd.ConnectionError):  # down (a restart test), or not answering its hello: ask again later
            return ""
        try:
            return str(c.currentsong().get("file", ""))
        except (OSError, mpd.ConnectionError):  # not answering now: ask again later
            return ""
        finally:
            with contextlib.suppress(OSError, mpd.ConnectionError):
                c.disconnect()

    def update(self) -> None:
        """Rescan the music folder (mpc update) and wait until MPD is done.

        MPD scans at idle CPU priority: on a busy machine that is seconds (it was over 15 s beside two busy
        processes on two cores), so this waits long and says so if it gives up, rather than leaving a test an
        MPD that lacks songs."""
        c = self.client()
        try:
            c.update()
            deadline = time.monotonic() + 120
            while "updating_db" in c.status():
                if time.monotonic() > deadline:
                    raise RuntimeError("MPD's database update took over 120 s (it runs at idle CPU priority)")
                time.sleep(0.05)
        finally:
            c.disconnect()

    def kill(self) -> None:
        """Stop MPD abruptly (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """MPD stopped (SIGSTOP) inside the block, running again after it: it takes connections and answers
        nothing, as a hung MPD does."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self._process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> MpdSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
