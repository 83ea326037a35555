"""tools/install.sh --dry-run: every action printed, nothing changed."""

import subprocess

from conftest import ROOT

SCRIPT = ROOT / "tools" / "install.sh"


def dry_run(tmp_path, *extra):
    prefix, etc, units = tmp_path / "opt", tmp_path / "etc", tmp_path / "units"
    args = ["bash", str(SCRIPT), "--dry-run", "--prefix", str(prefix), "--etc", str(etc), "--unit-dir", str(units)]
    result = subprocess.run(args + list(extra), capture_output=True, text=True)
    return result, prefix, etc, units


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    result, prefix, etc, units = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in (
        f"+ python3 -m venv --system-site-packages {prefix}/venv",
        f"+ {prefix}/venv/bin/pip install --quiet --upgrade {prefix}/src",  # (+ numpy pin where Debian has one)
        f"+ install -m 644 {ROOT}/models/emotion.tflite {ROOT}/models/emotion.json {prefix}/models/",
        f"+ write {etc}/config.yaml",
        f"+ write {units}/moodbox.service",
        "+ systemctl daemon-reload",
        "+ systemctl enable mpd.service moodbox.service",
        "+ systemctl restart moodbox.service",
    ):
        assert step in out, step
    assert "useradd --system" in out or "usermod --append --groups video,gpio moodbox" in out
    assert "apt-get install" in out or "all present" in out
    assert not prefix.exists() and not etc.exists() and not units.exists()


def test_an_edited_config_is_never_overwritten(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "config.yaml").write_text("mpd:\n  host: 10.0.0.2\n")
    result, *_ = dry_run(tmp_path)
    assert "edited config kept; the new default is written beside it as config.yaml.new" in result.stdout
    assert f"+ write {etc}/config.yaml.new" in result.stdout
    assert f"+ write {etc}/config.yaml\n" not in result.stdout
    assert (etc / "config.yaml").read_text() == "mpd:\n  host: 10.0.0.2\n"


def test_unknown_option_is_one_line(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT), "--frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == "install.sh: unknown option --frobnicate; see --help\n"
