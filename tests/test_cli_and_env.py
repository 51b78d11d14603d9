"""The command line and the one-environment install (torchvision shim)."""

import subprocess
import sys

import pytest

from neuroclips.cli import build_parser, main
from neuroclips.cli.guidance import guidance_from_args

# today's commands, in the order `--help` lists them
COMMANDS = ["build-demo-data", "convert-cc2017", "data-info", "train-zoo", "train-pr", "train-sr",
            "evaluate-reconstructors", "evaluate-zoo", "bench-zoo", "reconstruct", "bench", "train-fusion", "evaluate",
            "train-classifier", "evaluate-fusion", "weights", "bench-full", "memory-plan", "bench-load", "export-flatmaps",
            "doctor", "space"]


def run(*args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, **kw)


def test_help_lists_the_commands():
    out = run("-m", "neuroclips", "--help")
    assert out.returncode == 0
    listed = [line.split()[0] for line in out.stdout.split("<command>\n", 1)[1].split("\n\n")[0].splitlines()
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == COMMANDS


def test_every_command_has_a_handler():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == COMMANDS
    for name, parser in sub.choices.items():
        assert callable(parser.get_default("func")), name


def _reconstruct_args(*extra):
    return build_parser().parse_args(["reconstruct", "--clip", "1", "--out", "X", *extra])


def test_guidance_flags_come_from_the_settings_vocabulary():
    args = _reconstruct_args("--alpha-mode", "sdedit", "--no-blurry", "--beta-scale", "0.5")
    assert guidance_from_args(args) == {"alpha_mode": "sdedit", "use_blurry": False,
                                        "controlnet_conditioning_scale": 0.5}
    # no flag given: nothing overrides the zoo's defaults
    assert guidance_from_args(_reconstruct_args()) == {}
    # the caption pair, the seed and the settings without a hand-written flag (--caption-source, --prior-steps)
    args = _reconstruct_args("--caption", "--no-keyframe", "--seed", "7", "--caption-source", "ground truth",
                             "--prior-steps", "3")
    assert guidance_from_args(args) == {"use_caption": True, "use_keyframe": False, "seed": 7,
                                        "caption_source": "ground truth", "prior_steps": 3}
    assert guidance_from_args(_reconstruct_args("--no-caption")) == {"use_caption": False}
    with pytest.raises(SystemExit):
        _reconstruct_args("--caption", "--no-caption")
    with pytest.raises(SystemExit):
        _reconstruct_args("--steps", "2.5")  # an int setting
    # out of the setting's range: refused before any model loads
    with pytest.raises(ValueError, match="alpha_strength"):
        guidance_from_args(_reconstruct_args("--alpha-strength", "0"))


def test_a_registered_alpha_mode_is_a_cli_choice():
    from neuroclips.pipeline import ALPHA_MODES, AlphaMode, register_alpha_mode

    with pytest.raises(SystemExit):
        _reconstruct_args("--alpha-mode", "test_mode")
    register_alpha_mode(AlphaMode(name="test_mode", label="test", description="a test mode",
                                  start=lambda pipe, blurry_latents, noise, strength: noise))
    try:
        assert guidance_from_args(_reconstruct_args("--alpha-mode", "test_mode")) == {"alpha_mode": "test_mode"}
    finally:
        ALPHA_MODES.pop("test_mode")
    with pytest.raises(SystemExit):
        _reconstruct_args("--alpha-mode", "test_mode")


@pytest.mark.parametrize("command", [["data-info"], ["train-pr", "--subject", "1"],
                                     ["export-flatmaps", "--subject", "1"], ["reconstruct", "--clip", "0", "--out", "X"]])
def test_data_demo_is_refused(command, capsys):
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args([*command, "--data", "demo"])
    assert err.value.code == 2
    assert "invalid choice: 'demo'" in capsys.readouterr().err
    assert build_parser().parse_args(command).data == "simulated"


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
    assert main(["data-info", "--data", "simulated", "--subject", "9"]) == 2
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


def test_cli_errors_are_one_line_messages_not_tracebacks(capsys, monkeypatch):
    """What a user or a host causes (an unfinished feature, an unreadable file, a missing variable) is one line naming
    the cause and the fix, exit status 2; a bug is one line too, exit status 3, and -v prints its traceback."""
    from neuroclips.cli import main

    assert main(["train-pr", "--subject", "1", "--config", "full", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: NotImplementedError: training the full-size PR") and "Traceback" not in err
    monkeypatch.delenv("NEUROCLIPS_CC2017_ROOT", raising=False)
    assert main(["data-info", "--data", "cc2017", "--subject", "1"]) == 2
    err = capsys.readouterr().err
    assert "--root DIR" in err and "NEUROCLIPS_CC2017_ROOT" in err and "Traceback" not in err
    assert main(["export-flatmaps", "--subject", "1", "--perception", __file__]) == 2
    err = capsys.readouterr().err
    assert __file__ in err and "not a readable PyTorch checkpoint" in err and "Traceback" not in err

    from neuroclips.cli import build_parser

    def bug(args):
        raise ZeroDivisionError("division by zero")

    parser = build_parser()
    parser._subparsers._group_actions[0].choices["data-info"].set_defaults(func=bug)
    monkeypatch.setattr("neuroclips.cli.build_parser", lambda: parser)
    assert main(["data-info", "--subject", "1"]) == 3
    err = capsys.readouterr().err
    assert "unexpected ZeroDivisionError" in err and "-v" in err and "Traceback" not in err
    assert main(["-v", "data-info", "--subject", "1"]) == 3
    assert "Traceback" in capsys.readouterr().err
