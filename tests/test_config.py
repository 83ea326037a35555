import dataclasses
from pathlib import Path

import pytest

from moodbox import config
from moodbox.base import shipped as shipped_models
from moodbox.base.moods import MOODS

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_shipped_config_loads_with_defaults():
    cfg = config.load(ROOT / "config.yaml")
    assert cfg.model.path == ROOT / "models" / "emotion.tflite"
    assert cfg.model.threads == 1


def test_empty_file_gives_defaults(tmp_path):
    assert config.load(write(tmp_path, "")) == config.Config()


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = config.load(write(tmp_path, "model:\n  path: nets/e.tflite\n"))
    assert cfg.model.path == tmp_path / "nets" / "e.tflite"


def test_absolute_paths_stay(tmp_path):
    cfg = config.load(write(tmp_path, "model:\n  path: /opt/e.tflite\n"))
    assert cfg.model.path == Path("/opt/e.tflite")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modle:\n  path: x\n", "unknown config key 'modle'; did you mean 'model'?"),
        ("model:\n  thread: 2\n", "unknown config key 'model.thread'; did you mean 'model.threads'?"),
        ("model:\n  threads: two\n", "model.threads must be an integer; got 'two'"),
        ("model:\n  threads: 1.5\n", "model.threads must be an integer; got 1.5"),
        ("model:\n  threads: true\n", "model.threads must be an integer; got True"),
        ("model:\n  threads: 0\n", "model.threads must be between 1 and 8; got 0"),
        ("model:\n  path: 3\n", "model.path must be a file path; got 3"),
        ("model: fast\n", "model must be a mapping of keys, got 'fast'"),
        ("- a\n- b\n", "the top level must be a mapping of keys"),
        ("model:\n  path: [\n", "not valid YAML at line"),
        (
            "library:\n  feedback:\n    point_spread: 0\n",
            "library.feedback.point_spread must be between 0.05 and 2.0; got 0",
        ),
        ("library:\n  feedback:\n    move_points: maybe\n", "library.feedback.move_points must be true or false"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(tmp_path, text, message):
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read config .*nope.yaml"):
        config.load(tmp_path / "nope.yaml")


def test_no_path_and_no_local_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.load(None) == config.Config()


def test_mood_section(tmp_path):
    cfg = config.load(write(tmp_path, "mood:\n  dwell: 2\n  min_confidence: 0.5\n"))
    assert cfg.mood.dwell == 2.0 and isinstance(cfg.mood.dwell, float)
    assert cfg.mood.min_confidence == 0.5
    assert cfg.mood.smoothing == config.MoodSettings().smoothing


def test_mood_values_out_of_range(tmp_path):
    with pytest.raises(config.ConfigError, match="mood.min_confidence must be between 0.0 and 1.0; got 1.5"):
        config.load(write(tmp_path, "mood:\n  min_confidence: 1.5\n"))


def test_shipped_config_spells_out_every_key_with_its_default():
    """config.yaml is the documentation: every schema key appears there, set to its default."""
    import dataclasses

    import yaml

    text = (ROOT / "config.yaml").read_text()
    shipped = yaml.safe_load(text)
    defaults = config.Config()
    for section in dataclasses.fields(defaults):
        value = getattr(defaults, section.name)
        if value is None:  # an optional section (gpio) is shown commented out, every key of it
            for key in dataclasses.fields(config.GpioConfig):
                assert f"#  {key.name}:" in text, f"{section.name}.{key.name}"
            continue
        assert section.name in shipped, section.name
        if dataclasses.is_dataclass(value):
            for key in dataclasses.fields(value):
                assert key.name in shipped[section.name], f"{section.name}.{key.name}"
    assert config.load(ROOT / "config.yaml") == dataclasses.replace(
        defaults, model=dataclasses.replace(defaults.model, path=ROOT / "models" / "emotion.tflite")
    )


def test_camera_source_may_be_a_number(tmp_path):
    assert config.load(write(tmp_path, "camera:\n  source: 0\n")).camera.source == "0"


def test_optional_path_and_choices(tmp_path):
    cfg = config.load(write(tmp_path, "detector:\n  kind: yunet\n  model: y.onnx\n"))
    assert cfg.detector.model == tmp_path / "y.onnx"
    with pytest.raises(config.ConfigError, match="detector.policy must be one of largest, centre; got 'biggest'"):
        config.load(write(tmp_path, "detector:\n  policy: biggest\n"))


def test_policy_uplift_remaps_low_moods(tmp_path):
    cfg = config.load(write(tmp_path, "policy: uplift\nuplift:\n  sad: sunny\n  fear: ''\n"))
    mapping = cfg.playlist_for()
    assert mapping["sad"] == ("sunny",)  # a name is that playlist alone
    assert mapping["fear"] == ("fear", "moodbox-fear")  # "" = the mood's own
    # auto: the hand-made default first, then the library's uplift playlist, then the mood's own
    assert mapping["angry"] == ("neutral", "moodbox-angry-uplift", "angry", "moodbox-angry")
    assert mapping["happy"] == ("happy", "moodbox-happy")  # uplift leaves happy where it is
    assert config.load(write(tmp_path, "policy: match\n")).playlist_for()["sad"] == ("sad", "moodbox-sad")


def test_every_mood_defaults_to_its_own_playlist_then_the_librarys(tmp_path):
    defaults = config.Config()
    assert defaults.playlist_for() == {m: (m, f"moodbox-{m}") for m in MOODS}
    lifted = dataclasses.replace(defaults, policy="uplift").playlist_for()
    assert lifted == {
        "angry": ("neutral", "moodbox-angry-uplift", "angry", "moodbox-angry"),
        "disgust": ("neutral", "moodbox-disgust-uplift", "disgust", "moodbox-disgust"),
        "fear": ("neutral", "moodbox-fear-uplift", "fear", "moodbox-fear"),
        "happy": ("happy", "moodbox-happy"),
        "sad": ("happy", "moodbox-sad-uplift", "sad", "moodbox-sad"),
        "surprise": ("surprise", "moodbox-surprise"),
        "neutral": ("neutral", "moodbox-neutral"),
    }


def test_names_from_before_auto_keep_meaning_one_playlist(tmp_path):
    # A config written for the earlier defaults spelled them out: each is that one stored playlist.
    old = "playlists:\n  happy: happy\n  sad: ''\npolicy: uplift\nuplift:\n  angry: neutral\n  happy: ''\n"
    mapping = config.load(write(tmp_path, old)).playlist_for()
    assert mapping["angry"] == ("neutral",) and mapping["happy"] == ("happy",)
    assert mapping["sad"] == ("happy", "moodbox-sad-uplift")  # uplift.sad auto; its own is "" (leave alone)
    leave = "playlists:\n  happy: ''\npolicy: uplift\n"
    assert config.load(write(tmp_path, leave)).playlist_for()["happy"] == ()  # uplift keeps happy's own: none


def test_gpio_section_switches_controls_on(tmp_path):
    cfg = config.load(write(tmp_path, "gpio:\n  skip_button: 17\n  led: 22\n"))
    assert cfg.gpio == config.GpioConfig(skip_button=17, led=22)
    assert config.load(write(tmp_path, "gpio:\n")).gpio is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("camera:\n  fps: .nan\n", "camera.fps must be a finite number; got nan"),
        ("mood:\n  dwell: .nan\n", "mood.dwell must be a finite number; got nan"),
        ("mood:\n  away_after: .inf\n", "mood.away_after must be a finite number; got inf"),
        ("mpd:\n  timeout: -.inf\n", "mpd.timeout must be a finite number; got -inf"),
        ("mood:\n  dwell: 1\n  smoothing: 2\n  dwell: 3\n", "key 'dwell' appears twice (lines 2 and 4)"),
        ("model: {}\nmodel:\n  threads: 2\n", "key 'model' appears twice (lines 1 and 2)"),
        ("gpio:\n  skip_button: 17\n  led: 17\n", "gpio.skip_button and gpio.led both use pin 17"),
        ("gpio:\n  lock_button: 4\n  rgb_blue: 4\n", "gpio.lock_button and gpio.rgb_blue both use pin 4"),
        ("model:\n  path: ~nosuchuser/e.tflite\n", "model.path: no user with a home for '~nosuchuser/e.tflite'"),
        ("camera:\n  source: ~nosuchuser/clips\n", "camera.source: no user with a home for"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("threads: " + "7" * 5000 + "\n", "a number in it is too long"),
    ],
    ids=[
        "fps-nan",
        "dwell-nan",
        "inf",
        "minus-inf",
        "dup-key",
        "dup-section",
        "pin",
        "rgb-pin",
        "tilde-path",
        "tilde-source",
        "deep",
        "long-int",
    ],
)
def test_hostile_values_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_a_huge_value_is_shown_cut_short(tmp_path):
    with pytest.raises(config.ConfigError, match=r"model must be a mapping of keys, got \[\[\[\[\.\.\.\]\]\]\]$"):
        config.load(write(tmp_path, "model: " + "[" * 200 + "]" * 200 + "\n"))


@pytest.mark.parametrize(
    "content",
    ["model:\n  threads: 2\n".encode("utf-16"), bytes(range(256)) * 4],
    ids=["utf-16", "binary"],
)
def test_a_file_that_is_not_utf8_text_is_one_line(tmp_path, content):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(config.ConfigError, match=r"is not UTF-8 text .*; save it as UTF-8"):
        config.load(path)


def test_utf8_with_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes("model:\n  threads: 2\n".encode("utf-8-sig"))
    assert config.load(path).model.threads == 2


def test_a_fifo_or_a_device_is_refused_not_waited_on(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(config.ConfigError, match="is not a regular file"):
            config.load(path)


def test_a_file_over_1_mb_is_refused(tmp_path):
    path = write(tmp_path, "# padding\n" * 110_000)
    with pytest.raises(config.ConfigError, match="larger than 1 MB"):
        config.load(path)


def test_merge_keys_are_not_duplicates(tmp_path):
    cfg = config.load(write(tmp_path, "uplift: &u\n  sad: calm\nplaylists:\n  <<: *u\n  happy: joy\n"))
    assert cfg.playlists.sad == "calm" and cfg.playlists.happy == "joy"


def test_the_default_model_is_the_shipped_one_from_any_folder(tmp_path, monkeypatch):
    """An empty config elsewhere must find the model moodbox came with, not models/ under the cwd: the
    checkout's models/ for an editable install, PREFIX/models for one tools/install.sh made (the arm64 check's)."""
    monkeypatch.chdir(tmp_path)
    shipped = (ROOT / "models" / "emotion.tflite").read_bytes()
    for found in (config.load(write(tmp_path, "")).model.path, config.Config().model.path):
        assert found.is_absolute() and tmp_path not in found.parents
        assert found.read_bytes() == shipped


def test_an_installed_venv_finds_the_model_beside_it(tmp_path, monkeypatch):
    """tools/install.sh lays out PREFIX/venv and PREFIX/models."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "emotion.tflite").write_bytes(b"x")
    monkeypatch.setattr(shipped_models.sys, "prefix", str(tmp_path / "venv"))
    assert tmp_path / "models" in shipped_models.model_folders()


def test_a_billion_laughs_is_refused_without_expanding_it(tmp_path):
    """Aliases nest 10^12 items in 700 bytes: the error line must not try to print them all."""
    items = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    with pytest.raises(config.ConfigError, match=r"model must be a mapping of keys, got \[\['lol'"):
        config.load(write(tmp_path, "model: [" + ", ".join(items) + "]\n"))


def test_a_reload_refuses_a_file_caught_while_being_rewritten(tmp_path):
    """Item 9 of issue 21: at a reload an empty or cut-short file is refused, not taken as the defaults."""
    from moodbox import config

    path = tmp_path / "config.yaml"
    good = "mpd:\n  host: 10.0.0.2\n  password: SECRET\ncamera:\n  source: 0\n"
    path.write_text(good)
    assert config.load(path, whole=True).mpd.password == "SECRET"
    for text, says in (
        ("", "is empty"),
        ("\n  \n", "is empty"),
        ("# moodbox\n", "is empty"),
        (good[: good.index("SECRET") + 3], "ends mid-line"),
    ):
        path.write_text(text)
        with pytest.raises(config.ConfigError, match=says) as e:
            config.load(path, whole=True)
        assert "\n" not in str(e.value) and "reload again" in str(e.value)
    path.write_text("{}\n")
    assert config.load(path, whole=True) == config.Config()
    path.write_text("")
    assert config.load(path) == config.Config()  # a first start with an empty file is still the defaults
