"""The paper's metrics on constructed inputs, and the batch evaluation end to end on one clip."""

import json

import numpy as np
import pytest

from neuroclips.metrics import clip_pcc, retrieval_rank, retrieval_top1, video_metrics
from neuroclips.metrics.classification import n_way_top1


def _embed(frames):
    x = np.asarray(frames, np.float64).reshape(len(frames), -1) + 1.0
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_identical_videos_give_ssim_one_and_infinite_psnr():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    video = np.repeat(gt, 3, axis=0)[:16]  # frames 0, 3, ..., 15 are the GT frames
    video[::3] = gt
    m = video_metrics(video, gt, _embed)
    assert m["ssim"] == pytest.approx(1.0) and m["ssim_mindvideo"] == pytest.approx(1.0) and np.isinf(m["psnr"])
    noisy = np.clip(video.astype(int) + rng.integers(-40, 40, video.shape), 0, 255).astype(np.uint8)
    worse = video_metrics(noisy, gt, _embed)
    assert worse["ssim"] < 0.99 and worse["ssim_mindvideo"] < 0.99 and np.isfinite(worse["psnr"])
    with pytest.raises(ValueError, match="16-frame"):
        video_metrics(video[:10], gt)


def test_static_video_has_clip_pcc_one():
    frame = np.random.default_rng(1).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    assert clip_pcc(_embed(np.repeat(frame, 6, axis=0))) == pytest.approx(1.0)


def test_n_way_on_constructed_logits():
    n_classes = 20
    gt = np.tile(np.arange(n_classes, dtype=float), (4, 1))  # GT top-3: classes 19, 18, 17
    best = gt.copy()  # the prediction ranks the GT classes first: every trial succeeds
    assert n_way_top1(gt, best, 2)["accuracy"] == 1.0 and n_way_top1(gt, best, 10)["accuracy"] == 1.0
    worst = -gt  # the GT classes are the least likely: no trial succeeds
    assert n_way_top1(gt, worst, 2)["accuracy"] == 0.0
    # GT classes in the middle: class 17's probability beats classes 0-8 only; 2-way succeeds when the one
    # distractor (of the 17 non-GT classes) is among those 9, expected 9/17
    mid = np.zeros((200, n_classes))
    mid[:, 17] = 1.0
    mid[:, 9:17] = 2.0
    r = n_way_top1(np.tile(gt[:1], (200, 1)), mid, 2, trials=100)
    assert r["accuracy"] == pytest.approx(9 / 17, abs=0.02) and 0 < r["sd"] < 0.06
    with pytest.raises(ValueError, match="distractors"):
        n_way_top1(gt, best, 19)


def test_retrieval_on_perfect_embeddings():
    e = np.random.default_rng(2).normal(size=(600, 16))
    r = retrieval_top1(e, e, 300, "consecutive")
    assert r["keyframe"] == 1.0 and r["fmri"] == 1.0 and r["folds"] == 2
    assert retrieval_rank(e, e, 7) == 1
    assert retrieval_rank(e, -e, 7) == 600


def _random_classifier(pipe):
    from neuroclips.evaluation.classification import CategoryClassifier

    rng = np.random.default_rng(0)
    return CategoryClassifier(rng.normal(size=(8, pipe.image_encoder.config.projection_dim)), np.zeros(8),
                              [f"class {k}" for k in range(8)], lambda f: pipe.embed_images(f).cpu().numpy())


def test_batch_evaluation_resumes_and_summarises(tiny_zoo, tmp_path):
    from neuroclips.evaluation.batch import run_evaluation

    settings = {"num_inference_steps": 2, "keyframe_steps": 2, "prior_steps": 2}
    args = dict(n_way=5, progress=False, zoo=tiny_zoo.name, classifier=_random_classifier)
    summary = run_evaluation([1], [42], ["full", "no-keyframe"], tmp_path, settings, **args)
    record = tmp_path / "records" / "sub-01" / "clip-0042.json"
    metrics = json.loads(record.read_text())["metrics"]
    assert set(metrics) == {"full", "no-keyframe"} and metrics["full"] != metrics["no-keyframe"]
    assert 0 <= metrics["full"]["frame_2way"] <= 1 and -1 <= metrics["full"]["ssim"] <= 1
    assert json.loads(record.read_text())["settings"]["num_inference_steps"] == 2  # the full settings are recorded
    stamp = record.stat().st_mtime_ns
    run_evaluation([1], [42], ["full", "no-keyframe"], tmp_path, settings, **args)
    assert record.stat().st_mtime_ns == stamp  # resumed: nothing recomputed
    assert {r["variant"] for r in summary["rows"]} == {"full", "no-keyframe"}
    for name in ("summary.md", "summary.csv", "summary.html", "summary.json"):
        assert (tmp_path / name).exists()
    assert "frame 5-way" in (tmp_path / "summary.md").read_text()
