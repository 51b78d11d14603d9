"""The mini zoo's VAE: training from scratch (smoke, resume) and the shipped weights' quality gate."""

import json

import numpy as np
import pytest
from diffusers import AutoencoderKL

from neuroclips.simulation.stimuli import MovieRenderer, StimulusConfig
from neuroclips.training.zoo_vae import VAETrainingConfig, train_vae
from neuroclips.zoo import zoo_dir
from neuroclips.zoo.mini import load_vae
from neuroclips.evaluation.gates import VAE_PSNR_GATE_DB, held_out_frames, vae_psnr

TINY = dict(in_channels=3, out_channels=3, latent_channels=4, sample_size=32,
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=4)


@pytest.fixture(scope="module")
def frames():
    r = MovieRenderer(StimulusConfig(resolution=32, clips_per_movie=8))
    return np.concatenate([r.render_clip("train", i) for i in range(16)])


def test_training_from_scratch_lowers_the_loss_and_resumes(frames, tmp_path):
    cfg = VAETrainingConfig(steps=12, batch_size=8, lr=3e-3, checkpoint_every=6, threads=1)
    info = train_vae(tmp_path / "out", tmp_path / "work", frames, cfg, model_config=TINY, progress=False)
    state = json.loads((tmp_path / "work" / "state.json").read_text())
    losses = [h[1] for h in state["history"]]
    assert state["step"] == 12 and np.mean(losses[-4:]) < np.mean(losses[:4])
    assert info["scaling_factor"] > 0
    vae = AutoencoderKL.from_pretrained(tmp_path / "out")
    assert vae.config.scaling_factor == pytest.approx(info["scaling_factor"])
    # Resume: 6 more steps continue from the checkpoint instead of starting again.
    more = VAETrainingConfig(steps=18, batch_size=8, lr=3e-3, checkpoint_every=6, threads=1)
    train_vae(tmp_path / "out", tmp_path / "work", frames, more, model_config=TINY, resume=True, progress=False)
    state = json.loads((tmp_path / "work" / "state.json").read_text())
    assert state["step"] == 18 and len(state["history"]) == 18


def test_training_is_seeded(frames, tmp_path):
    cfg = VAETrainingConfig(steps=3, batch_size=4, checkpoint_every=3, threads=1)
    a = train_vae(tmp_path / "a", tmp_path / "wa", frames, cfg, model_config=TINY, progress=False)
    b = train_vae(tmp_path / "b", tmp_path / "wb", frames, cfg, model_config=TINY, progress=False)
    assert a["scaling_factor"] == b["scaling_factor"]


SHIPPED = zoo_dir("mini") / "vae" / "config.json"


@pytest.mark.skipif(not SHIPPED.exists(), reason="mini zoo VAE not trained")
@pytest.mark.shipped
def test_shipped_vae_loads_offline_and_meets_its_gate_on_a_subset(shipped_subject):
    vae = load_vae()
    assert vae.config.latent_channels == 4 and 2 ** (len(vae.config.block_out_channels) - 1) == 8
    frames, _ = held_out_frames(shipped_subject.world, n_clips=40)
    psnr = vae_psnr(vae, frames)
    assert psnr.shape == (40, 6)
    assert psnr.mean() >= VAE_PSNR_GATE_DB
