"""Training the reconstructors end to end on a tiny in-memory subject with the shipped mini zoo."""

import json

import numpy as np
import pytest
import torch

from neuroclips.data.base import SubjectData
from neuroclips.zoo import zoo_dir

pytestmark = pytest.mark.skipif(not (zoo_dir("mini") / "clip" / "config.json").exists(), reason="mini zoo not trained")


class TinySubject(SubjectData):
    """3 training movies of 40 clips, 1 test movie; fMRI linear in the frames' mean colour, plus noise."""

    source = "synthetic-test"
    subject = 9
    n_voxels = 50
    per_movie = 40

    def __init__(self):
        rng = np.random.default_rng(0)
        self.video = {s: rng.integers(0, 256, (n, 6, 64, 64, 3), dtype=np.uint8) for s, n in (("train", 120), ("test", 40))}
        w = rng.normal(size=(3, self.n_voxels))
        self.signal = {s: (f.mean((1, 2, 3)) / 128 - 1) @ w for s, f in self.video.items()}
        self.noise = {s: rng.normal(size=(len(f), self.repetitions(s), self.n_voxels)) * 0.1 for s, f in self.video.items()}

    def num_clips(self, split):
        return len(self.video[self._check_split(split)])

    def _fmri(self, split, indices):
        return (self.signal[split][indices][:, None] + self.noise[split][indices]).astype(np.float32)

    def _frames(self, split, index, fps):
        return self.video[split][index]

    def caption(self, split, index):
        return ["a red scene", "a blue scene"][index % 2]

    def movie_position(self, split, index):
        return divmod(index, self.per_movie)


def test_train_pr_and_sr_few_steps_write_loadable_checkpoints(tmp_path, monkeypatch):
    from dataclasses import replace

    from neuroclips.models import PerceptionReconstructor, SemanticsReconstructor
    from neuroclips.training import reconstructors as rec

    monkeypatch.setenv("NEUROCLIPS_CACHE", str(tmp_path / "cache"))
    s = TinySubject()
    train, val = rec.validation_split(s)
    assert len(val) == 40 and val.min() == 80 and not set(train) & set(val)  # the last training movie

    cfg = replace(rec.PerceptionTrainingConfig(), steps=4, batch_clips=8, checkpoint_every=2, threads=1)
    info = rec.train_perception(s, tmp_path / "pr", tmp_path / "work_pr", cfg=cfg, progress=False)
    assert info["best_validation"]["step"] in (2, 4) and np.isfinite(info["final"]["loss"])
    pr = PerceptionReconstructor.from_pretrained(tmp_path / "pr", torch_dtype=torch.float32)
    assert pr.config.n_voxels == 50 and json.loads((tmp_path / "pr" / "training.json").read_text())["steps"] == 4

    cfg = replace(rec.SemanticsTrainingConfig(), stage1_steps=3, stage1_batch=16, stage2_steps=3, stage2_batch=8,
                  checkpoint_every=3, threads=1)
    info = rec.train_semantics(s, tmp_path / "sr", tmp_path / "work_sr", cfg=cfg, progress=False)
    assert info["stage1"]["best_validation"]["metrics"]["keyframe"] >= 0
    sr = SemanticsReconstructor.from_pretrained(tmp_path / "sr", torch_dtype=torch.float32)
    # Resuming a finished run trains no more steps and gives the same checkpoint.
    before = sr.state_dict()["ridge.linears.0.weight"].clone()
    rec.train_semantics(s, tmp_path / "sr", tmp_path / "work_sr", cfg=cfg, resume=True, progress=False)
    after = SemanticsReconstructor.from_pretrained(tmp_path / "sr", torch_dtype=torch.float32)
    assert torch.equal(before, after.state_dict()["ridge.linears.0.weight"])
