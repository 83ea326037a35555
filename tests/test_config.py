from pathlib import Path

import pytest

from moodbox import config

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
    cfg = config.load(write(tmp_path, "policy: uplift\nuplift:\n  sad: sunny\n"))
    mapping = cfg.playlist_for()
    assert mapping["sad"] == "sunny" and mapping["angry"] == "neutral" and mapping["happy"] == "happy"
    assert config.load(write(tmp_path, "policy: match\n")).playlist_for()["sad"] == "sad"


def test_gpio_section_switches_controls_on(tmp_path):
    cfg = config.load(write(tmp_path, "gpio:\n  skip_button: 17\n  led: 22\n"))
    assert cfg.gpio == config.GpioConfig(skip_button=17, led=22)
    assert config.load(write(tmp_path, "gpio:\n")).gpio is None
