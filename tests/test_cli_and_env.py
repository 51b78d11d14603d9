"""The command line and the one-environment install (torchvision shim)."""

import subprocess
import sys

import pytest

from neuroclips.cli import main


def run(*args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, **kw)


def test_help_lists_the_commands():
    out = run("-m", "neuroclips", "--help")
    assert out.returncode == 0
    for command in ("build-demo-data", "convert-cc2017", "data-info"):
        assert command in out.stdout


def test_open_clip_transformers_and_diffusers_import_on_this_torch():
    code = (
        "import neuroclips, torch, open_clip, timm\n"
        "from transformers import CLIPImageProcessor, CLIPTextModel, Blip2ForConditionalGeneration\n"
        "from diffusers import AnimateDiffSparseControlNetPipeline, AutoencoderKL\n"
        "print('cuda' if torch.version.cuda else 'cpu', neuroclips._compat._APPLIED)\n"
    )
    out = run("-c", code)
    assert out.returncode == 0, out.stderr[-2000:]
    build, applied = out.stdout.split()
    # The shim is applied exactly where the trap exists: Linux with CPU-only torch.
    assert applied == str(build == "cpu" and sys.platform.startswith("linux"))


def test_cli_reports_bad_input_without_a_traceback(capsys, tmp_path):
    assert main(["data-info", "--data", "demo", "--subject", "9"]) == 2
    assert "unknown simulated subject 9" in capsys.readouterr().err
    assert main(["convert-cc2017", "--root", str(tmp_path), "--cache", str(tmp_path / "c")]) == 2
    assert "not found" in capsys.readouterr().err


def test_data_info_on_the_shipped_world(capsys):
    from neuroclips.data import available_simulated_subjects

    if not available_simulated_subjects():
        pytest.skip("demo data not built")
    assert main(["data-info", "--subject", "1", "--clip", "3"]) == 0
    out = capsys.readouterr().out
    assert '"source": "simulated"' in out and '"frames_shape": [\n      6,' in out
