"""The full zoo's manifest and `weights check|download`: offline, against a temporary zoo folder."""

import json
import subprocess
import sys

import pytest

from neuroclips.zoo.full import manifest as m
from neuroclips.zoo.full.weights import MissingWeightsError, check_weights, download_weights, require_weights

# every file the full zoo's assembler opens (neuroclips.zoo.full.assemble_components)
NEEDED = {("animatediff", "v3_sd15_mm.ckpt"), ("animatediff", "v3_sd15_adapter.ckpt"),
          ("animatediff", "v3_sd15_sparsectrl_rgb.ckpt"), ("mindeye2", "unclip6_epoch0_step110000.ckpt"),
          ("mindeye2", "sd_image_var_autoenc.pth"), ("bigg", "open_clip_pytorch_model.bin"),
          ("base_model", "realisticVisionV60B1_v51VAE.safetensors"), ("sd15", "unet/config.json"),
          ("sd15", "tokenizer/vocab.json"), ("blip2", "config.json"), ("reconstructors", "sub-01/semantics/config.json")}


def raw_manifest():
    return json.loads(m.MANIFEST_PATH.read_text())


def test_manifest_is_well_formed_and_covers_what_the_loaders_open(monkeypatch):
    monkeypatch.delenv("NEUROCLIPS_RECONSTRUCTORS_REPO", raising=False)
    assert m.validate(raw_manifest()) == []
    arts = m.load_manifest(subjects=(1, 2))
    files = {(a.name, f.path) for a in arts for f in a.files}
    assert NEEDED <= files
    assert ("reconstructors", "sub-02/perception/diffusion_pytorch_model.safetensors") in files
    assert not any(p.startswith("sub-03") for _, p in files)
    by_name = {a.name: a for a in arts}
    assert by_name["blip2"].revision == "51572668da0eb669e01a189dc22abe6088589a24"  # spec §4.3
    assert by_name["mindeye2"].repo_type == "dataset"
    assert not by_name["reconstructors"].configured
    # training-only files are tagged as such
    teacher = next(f for f in by_name["mindeye2"].files if "convnext" in f.path)
    assert teacher.groups == ("training",)


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["artefacts"][2]["source"].update(revision="main"), "not a pinned 40-hex commit"),
    (lambda r: r["artefacts"].append(dict(r["artefacts"][0])), "listed twice"),
    (lambda r: r["artefacts"][0]["files"][0].update(groups=["serving"]), "groups must be"),
    (lambda r: r["artefacts"][0]["files"][0].update(path="../evil"), "bad file path"),
    (lambda r: r["artefacts"][1].update(source={"type": "url", "url": "http://example.com/x"}), "https://"),
    (lambda r: r["artefacts"][5].update(files=[dict(r["artefacts"][5]["files"][-1])]), "no required files"),
])
def test_manifest_validation_names_the_problem(edit, message):
    raw = raw_manifest()
    edit(raw)
    assert any(message in e for e in m.validate(raw))


def test_configurable_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROCLIPS_RECONSTRUCTORS_REPO", "lab/neuroclips-cc2017@abc123")
    by_name = {a.name: a for a in m.load_manifest(subjects=(1,))}
    assert by_name["reconstructors"].repo_id == "lab/neuroclips-cc2017" and by_name["reconstructors"].revision == "abc123"
    base = by_name["base_model"]
    assert (base.source_type, base.repo_id, base.files[0].path) == (
        "hf", "guoyww/animatediff_t2i_backups", "realisticVisionV60B1_v51VAE.safetensors")  # the V6.0 B1 file
    assert base.unpinned_reason  # says why it has no 40-hex pin
    civitai = m.base_model_source("https://civitai.com/api/download/models/130072", base)
    assert civitai.source_type == "url" and not civitai.files[0].exact_size  # the size stays, as a floor
    hf = m.base_model_source("someone/rv-mirror:weights/rv60.safetensors@0123", base)
    assert (hf.source_type, hf.repo_id, hf.revision, hf.files[0].path) == ("hf", "someone/rv-mirror", "0123",
                                                                           "weights/rv60.safetensors")
    local = tmp_path / "rv.safetensors"
    local.write_bytes(b"x")
    lo = m.base_model_source(str(local), base)
    assert lo.source_type == "local" and lo.local_path == str(local)
    with pytest.raises(ValueError, match="subjects"):
        m.load_manifest(subjects=(4,))


def _populate(root, arts, skip=()):
    for a in arts:
        for f in a.files:
            if (a.name, f.path) in skip or not a.configured or f.optional:
                continue
            p = root / a.name / f.path
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "wb") as fh:  # a sparse file of the real size: gigabytes without writing them
                fh.write(b"0")
                fh.truncate(f.size if f.exact_size else 8)


def test_check_reports_exactly_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCLIPS_RECONSTRUCTORS_REPO", "lab/recon")
    arts = m.load_manifest(subjects=(1,))
    skip = {("animatediff", "v3_sd15_adapter.ckpt"), ("reconstructors", "sub-01/semantics/config.json")}
    _populate(tmp_path, arts, skip)
    report = check_weights(tmp_path, ("inference",), (1,))
    assert {(s.artefact.name, s.file.path) for s in report.missing} == skip
    assert all(s.state == "missing" for s in report.missing)
    training = [s for s in check_weights(tmp_path, ("training",), (1,)).statuses]
    assert any("convnext" in s.file.path for s in training) and not any("sparsectrl" in s.file.path for s in training)
    text = report.format()
    assert "2 of" in text and "--only animatediff reconstructors" in text and "--subject 1" in text
    with pytest.raises(MissingWeightsError, match="python -m neuroclips weights download --zoo full"):
        require_weights(tmp_path, subjects=(1,))


def test_unconfigured_reconstructors_are_reported_with_the_variable_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NEUROCLIPS_RECONSTRUCTORS_REPO", raising=False)
    _populate(tmp_path, m.load_manifest(subjects=(1,)))
    report = check_weights(tmp_path, ("inference",), (1,))
    assert {s.state for s in report.missing} == {"not configured"}
    assert "NEUROCLIPS_RECONSTRUCTORS_REPO=<repo id>" in report.fetch_command()


def test_download_fetches_only_the_missing_files_at_the_pinned_revision(tmp_path, monkeypatch):
    import huggingface_hub
    import huggingface_hub.file_download as fd

    monkeypatch.setenv("NEUROCLIPS_RECONSTRUCTORS_REPO", "lab/recon")
    arts = m.load_manifest(subjects=(1,))
    skip = {("animatediff", "v3_sd15_mm.ckpt"), ("base_model", "realisticVisionV60B1_v51VAE.safetensors")}
    _populate(tmp_path, arts, skip)
    calls = []

    def fake_hf(repo_id, filename, *, repo_type=None, revision=None, local_dir=None, **kw):
        calls.append((repo_id, filename, repo_type, revision))
        out = local_dir / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"w")
        return str(out)

    def fake_http_get(url, fh, resume_size=0, headers=None, **kw):
        calls.append((url, resume_size))
        fh.write(b"rv")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf)
    monkeypatch.setattr(fd, "http_get", fake_http_get)
    report = download_weights(tmp_path, ("inference",), (1,), only=("animatediff", "blip2"), log=lambda *_: None)
    adapter = next(a for a in arts if a.name == "animatediff")
    assert calls[0] == ("guoyww/animatediff", "v3_sd15_mm.ckpt", "model", adapter.revision)
    # the optional BLIP-2 files were tried at the pinned revision; absent ones do not count as missing
    assert ("Salesforce/blip2-opt-2.7b", "tokenizer.json", "model", "51572668da0eb669e01a189dc22abe6088589a24") in calls
    assert not any(c[1] == "config.json" for c in calls)  # present files are not fetched again
    # the fake wrote a 1-byte mm.ckpt, and the real one has a known exact size
    assert [(s.file.path, s.state) for s in report.missing] == [("v3_sd15_mm.ckpt", "wrong size")]
    full = check_weights(tmp_path, ("inference",), (1,))
    assert {(s.artefact.name, s.file.path, s.state) for s in full.missing} == {
        ("animatediff", "v3_sd15_mm.ckpt", "wrong size"), ("base_model", "realisticVisionV60B1_v51VAE.safetensors",
                                                           "missing")}
    # a small file from civitai is a login page, not weights: refused, and never renamed into place
    calls.clear()
    civitai = m.base_model_source("https://civitai.com/api/download/models/130072", arts[1])
    for _ in range(2):  # refused, and the refused bytes are not resumed onto
        with pytest.raises(OSError, match="not a safetensors file"):
            download_weights(tmp_path, ("inference",), (1,), only=("base_model",), artefacts=[civitai],
                             log=lambda *_: None)
    assert calls == [("https://civitai.com/api/download/models/130072", 0)] * 2
    assert not list((tmp_path / "base_model").iterdir())
    # a real (if small) safetensors file that stopped half-way is resumed from where it stopped
    part = tmp_path / "base_model" / (civitai.files[0].path + ".incomplete")
    part.write_bytes(b"\x10" + b"\x00" * 7 + b'{"a":')
    with pytest.raises(OSError, match="expected"):
        download_weights(tmp_path, ("inference",), (1,), only=("base_model",), artefacts=[civitai], log=lambda *_: None)
    assert calls[-1][1] == 13
    # a local base model replaces the download
    calls.clear()
    local = tmp_path / "rv.safetensors"
    local.write_bytes(b"r")
    (tmp_path / "animatediff" / "v3_sd15_mm.ckpt").unlink()
    report = download_weights(tmp_path, ("inference",), (1,), only=("base_model",), base_model=str(local),
                              log=lambda *_: None)
    assert report.complete and calls == []


def test_cli_weights_check_exit_code_and_command(tmp_path):
    env_cmd = [sys.executable, "-m", "neuroclips", "weights", "check", "--zoo", "full", "--root", str(tmp_path),
               "--subject", "1", "--reconstructors-repo", "lab/recon"]
    out = subprocess.run(env_cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert "v3_sd15_sparsectrl_rgb.ckpt" in out.stdout and "missing" in out.stdout
    assert f"python -m neuroclips weights download --zoo full --root {tmp_path} --subject 1 --only" in out.stdout


def test_full_pipeline_reports_missing_weights_with_the_fetch_command(tmp_path):
    from neuroclips.pipeline import NeuroClipsPipeline

    with pytest.raises(MissingWeightsError, match="weights download --zoo full") as err:
        NeuroClipsPipeline.from_pretrained("full", subject=1, zoo_root=tmp_path, device="cpu")
    assert isinstance(err.value, FileNotFoundError)  # the app and CLI show FileNotFoundErrors as messages
