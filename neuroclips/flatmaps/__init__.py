"""Voxel-weight maps on the HCP fs_LR 32k flat surface: interactive (plotly), PNG and sparse CIFTI-2 exports."""

from .plot import FlatmapStyle, normalize_map, plot_flatmap, save_png, save_preview
from .surface import EARLY_AREAS, VISUAL_AREAS, flat_surface, to_cortex
from .weights import (WEIGHT_KEYS, area_summary, dscalar_grayordinates, ground_truth_maps, load_dscalar,
                      load_state_dict, map_correlation, plot_area_summary, save_dscalar, voxel_weights)

__all__ = ["EARLY_AREAS", "VISUAL_AREAS", "WEIGHT_KEYS", "FlatmapStyle", "area_summary", "dscalar_grayordinates",
           "flat_surface", "ground_truth_maps", "load_dscalar", "load_state_dict", "map_correlation", "normalize_map",
           "plot_area_summary", "plot_flatmap", "save_dscalar", "save_png", "save_preview", "to_cortex",
           "voxel_weights"]
