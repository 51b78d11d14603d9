"""The cc2017 reader on small files written in the dataset's own format (torch .pt, pickled captions)."""

import numpy as np
import pytest
import torch

from neuroclips.data import CC2017Layout, CC2017Subject, DataError, convert_cc2017, load_subject

LAYOUT = CC2017Layout(n_clips={"train": 6, "test": 4}, repetitions={"train": 2, "test": 10},
                      voxels={1: 11, 2: 13, 3: 7}, frames_per_clip=6, frame_size=8)


def write_dataset(root, layout=LAYOUT, seed=0, legacy=False):
    g = torch.Generator().manual_seed(seed)
    kw = {"_use_new_zipfile_serialization": False} if legacy else {}
    data = {}
    for split in ("train", "test"):
        n = layout.n_clips[split]
        frames = torch.randint(0, 256, layout.frames_shape(split), generator=g).float() / 255
        torch.save(frames, root / layout.frames_file(split), **kw)
        captions = np.array([f"{split} caption {i}" for i in range(n)])
        torch.save(captions, root / layout.caption_file(split), **kw)
        data[("frames", split)] = frames
        for s in (1, 2, 3):
            fmri = torch.randn(layout.fmri_shape(s, split), generator=g)
            torch.save(fmri, root / layout.fmri_file(s, split), **kw)
            data[(s, split)] = fmri
    return data


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "cc2017"
    root.mkdir()
    return root, tmp_path / "cache", write_dataset(root)


def test_reader_gives_per_clip_access_and_reference_averaging(dataset):
    root, cache, data = dataset
    sub = CC2017Subject(root, 2, cache=cache, layout=LAYOUT)
    assert sub.n_voxels == 13 and sub.num_clips("train") == 6 and sub.num_clips("test") == 4
    test = data[(2, "test")]
    # Test samples: the plain mean over the 10 repetitions, as the reference does (spec §1.2).
    np.testing.assert_allclose(sub.fmri("test", 3), test[3].mean(0).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(sub.fmri("train", [1, 4], repetition=1), data[(2, "train")][[1, 4], 1].numpy())
    assert sub.fmri("test", 0, repetition="all").shape == (10, 13)
    frames = sub.frames("train", 5)
    assert frames.shape == (6, 8, 8, 3) and frames.dtype == np.uint8
    expected = np.round(data[("frames", "train")][5].permute(0, 2, 3, 1).numpy() * 255)
    np.testing.assert_array_equal(frames, expected.astype(np.uint8))
    clip = sub.clip("test", 2)
    assert clip.caption == "test caption 2" and clip.fmri.shape == (13,) and clip.categories == ()


def test_cache_is_memory_mapped_and_reused(dataset):
    root, cache, _ = dataset
    out = convert_cc2017(root, cache, subjects=(1,), layout=LAYOUT)
    mm = np.load(out / "sub-01" / "test_fmri.npy", mmap_mode="r")
    assert isinstance(mm, np.memmap) and mm.shape == (4, 10, 11)
    stamp = (out / "frames_train.npy").stat().st_mtime_ns
    convert_cc2017(root, cache, subjects=(1,), layout=LAYOUT)
    assert (out / "frames_train.npy").stat().st_mtime_ns == stamp  # nothing re-converted


def test_legacy_torch_files_are_read(tmp_path):
    root = tmp_path / "legacy"
    root.mkdir()
    data = write_dataset(root, legacy=True)
    sub = CC2017Subject(root, 3, cache=tmp_path / "cache", layout=LAYOUT)
    np.testing.assert_array_equal(sub.fmri("train", 2, repetition=0), data[(3, "train")][2, 0].numpy())


def test_float32_frame_cache_is_exact(dataset):
    root, cache, data = dataset
    out = convert_cc2017(root, cache, subjects=(1,), layout=LAYOUT, frame_dtype="float32")
    frames = np.load(out / "frames_test.npy")
    np.testing.assert_array_equal(frames, data[("frames", "test")].permute(0, 1, 3, 4, 2).numpy())


def test_missing_file_names_it(dataset):
    root, cache, _ = dataset
    (root / "subj01_test_fmri.pt").unlink()
    with pytest.raises(DataError, match=r"subj01_test_fmri\.pt not found"):
        CC2017Subject(root, 1, cache=cache, layout=LAYOUT)


def test_truncated_file_names_it_and_what_was_expected(dataset):
    root, cache, _ = dataset
    path = root / "GT_test_3fps.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"GT_test_3fps\.pt.*truncated.*\(clips, frames, 3, H, W\)"):
        CC2017Subject(root, 1, cache=cache, layout=LAYOUT)


def test_wrong_voxel_count_is_reported(dataset):
    root, cache, _ = dataset
    torch.save(torch.zeros(6, 2, 12), root / "subj01_train_fmri.pt")
    with pytest.raises(DataError, match=r"subj01_train_fmri\.pt has shape \(6, 2, 12\), expected .*\(6, 2, 11\)"):
        CC2017Subject(root, 1, cache=cache, layout=LAYOUT)


def test_wrong_caption_count_and_unknown_subject(dataset):
    root, cache, _ = dataset
    torch.save(np.array(["only one"]), root / "GT_train_caption.pt")
    with pytest.raises(DataError, match="holds 1 captions, expected 6"):
        convert_cc2017(root, cache, subjects=(1,), layout=LAYOUT)
    with pytest.raises(DataError, match="not 4"):
        CC2017Subject(root, 4, cache=cache, layout=LAYOUT)


def test_bad_indices_and_repetitions(dataset):
    root, cache, _ = dataset
    sub = CC2017Subject(root, 1, cache=cache, layout=LAYOUT)
    with pytest.raises(IndexError, match=r"test clip 4 out of range \[0, 4\)"):
        sub.fmri("test", 4)
    with pytest.raises(ValueError, match="repetition"):
        sub.fmri("train", 0, repetition=2)
    with pytest.raises(ValueError, match="split"):
        sub.frames("val", 0)
    with pytest.raises(ValueError, match="FPS"):
        sub.frames("test", 0, fps=8)


def test_load_subject_requires_a_root_for_cc2017():
    with pytest.raises(DataError, match="root"):
        load_subject("cc2017", 1)
    with pytest.raises(DataError, match="unknown data source"):
        load_subject("nsd", 1)
