"""Flatmap command: ``export-flatmaps``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .data import add_data_arguments


def register(subparsers) -> None:
    p = subparsers.add_parser("export-flatmaps", help="voxel-weight flatmaps of a subject: PNG, CIFTI-2 dscalar, "
                              "per-area CSV")
    p.add_argument("--subject", type=int, required=True)
    add_data_arguments(p)
    p.add_argument("--perception", help="PR checkpoint (.safetensors, folder or .pth); default: the shipped one")
    p.add_argument("--semantics", help="SR checkpoint; default: the shipped one")
    p.add_argument("--vertex-indices", help=".npy of the voxels' grayordinate indices (needed for cc2017, spec §8)")
    p.add_argument("--out", help="output folder (default: flatmaps/)")
    p.set_defaults(func=export_flatmaps)


def export_flatmaps(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data import load_subject
    from ..flatmaps.export import default_checkpoint, export_subject, print_summary
    from ..paths import REPO_ROOT

    data = load_subject(args.data, args.subject, root=args.root)
    checkpoints = {}
    for model, given in (("perception", args.perception), ("semantics", args.semantics)):
        # the shipped checkpoints are the simulated subjects'
        default = default_checkpoint(args.subject, model) if args.data == "simulated" else None
        checkpoints[model] = Path(given) if given else (default if default is not None and default.exists() else None)
    if not any(checkpoints.values()):
        print("note: no reconstructor checkpoints found (train them with train-pr / train-sr, or pass --perception/"
              "--semantics); exporting the ground-truth maps only", file=sys.stderr)
    vertices = np.load(args.vertex_indices) if args.vertex_indices else None
    out = Path(args.out) if args.out else REPO_ROOT / "flatmaps"
    summary = export_subject(data, out / f"sub-{args.subject:02d}", checkpoints, vertices)
    print_summary(summary)
    return 0
