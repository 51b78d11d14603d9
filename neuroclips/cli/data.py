"""Data commands: ``build-demo-data``, ``convert-cc2017``, ``data-info``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """``--data`` (a source of :data:`neuroclips.data.SOURCES`, default the simulated world) and its ``--root``."""
    from ..data import SOURCES

    p.add_argument("--data", choices=SOURCES, default="simulated", help="data source (default: simulated)")
    p.add_argument("--root", help="cc2017 dataset folder (for --data cc2017; default: $NEUROCLIPS_CC2017_ROOT)")


def simulated_subjects(given: list[int] | None) -> list[int]:
    """``given``, or every subject of the simulated world that is built (``DataError`` when none is)."""
    from ..data import DataError, available_subjects

    subjects = list(given) if given else available_subjects("simulated")
    if not subjects:
        raise DataError("no simulated subject is built; run `python -m neuroclips build-demo-data`")
    return subjects


def register(subparsers) -> None:
    from ..data import available_subjects

    p = subparsers.add_parser("build-demo-data", help="build the simulated world (3 subjects) into demo_data/")
    p.add_argument("--subjects", type=int, nargs="+", help="only these subjects (default: all)")
    p.add_argument("--out", help="output folder (default: demo_data/simulated)")
    p.add_argument("--cache", help="cache for the regenerable arrays (default: $NEUROCLIPS_CACHE)")
    p.add_argument("--report", help="also write the measured properties as Markdown to this file")
    p.set_defaults(func=build_demo_data)

    p = subparsers.add_parser("convert-cc2017", help="convert the real cc2017 .pt files into a memory-mappable cache")
    p.add_argument("--root", required=True, help="folder with subj0N_*_fmri.pt, GT_*_3fps.pt, GT_*_caption.pt")
    subjects = available_subjects("cc2017")
    p.add_argument("--subjects", type=int, nargs="+", default=subjects,
                   help=f"default: all of cc2017's ({' '.join(map(str, subjects))})")
    p.add_argument("--cache", help="cache folder (default: $NEUROCLIPS_CACHE)")
    p.add_argument("--frame-dtype", choices=["uint8", "float32"], default="uint8")
    p.set_defaults(func=convert_cc2017)

    p = subparsers.add_parser("data-info", help="summarise a subject of a data source and one of its test clips")
    add_data_arguments(p)
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--clip", type=int, default=0)
    p.set_defaults(func=data_info)


def build_demo_data(args: argparse.Namespace) -> int:
    from ..paths import cache_dir, demo_data_dir
    from ..simulation.world import WorldConfig, build_world

    out = Path(args.out) if args.out else demo_data_dir() / "simulated"
    cache = Path(args.cache) if args.cache else cache_dir()
    t0 = time.perf_counter()
    manifest = build_world(out, cache, WorldConfig(), subjects=tuple(args.subjects) if args.subjects else None)
    for s, info in manifest["subjects"].items():
        print(f"subject {s}: {info['n_voxels']} voxels (false positives {info['false_positives']}), "
              f"train repetition r median {info['train_rep_r_percentiles_5_25_50_75_95'][2]}, "
              f"test split-half r median {info['test_split_half_r_percentiles_5_25_50_75_95'][2]}, "
              f"{info['build_seconds']} s")
    size = sum(p.stat().st_size for p in out.parent.rglob("*") if p.is_file()) / 2**20
    print(f"built in {time.perf_counter() - t0:.1f} s; {out.parent} is {size:.1f} MiB; cache {cache}")
    if args.report:
        from ..io import atomic_path
        from ..simulation.world import world_report

        with atomic_path(args.report) as tmp:
            tmp.write_text(world_report(manifest, size, "python -m neuroclips build-demo-data --report " + args.report))
        print(f"report written to {args.report}")
    return 0


def convert_cc2017(args: argparse.Namespace) -> int:
    from ..data import convert_cc2017 as convert
    from ..paths import cache_dir

    out = convert(args.root, Path(args.cache) if args.cache else cache_dir(), subjects=tuple(args.subjects),
                  frame_dtype=args.frame_dtype)
    print(f"cc2017 cache ready at {out}")
    return 0


def data_info(args: argparse.Namespace) -> int:
    from ..data import load_subject

    subject = load_subject(args.data, args.subject, root=args.root)
    info = subject.describe()
    clip = subject.clip("test", args.clip)
    info["example_clip"] = {"index": clip.index, "fmri_shape": list(clip.fmri.shape),
                            "frames_shape": list(clip.frames.shape), "caption": clip.caption,
                            "categories": list(clip.categories), "movie": clip.movie, "position": clip.position}
    print(json.dumps(info, indent=2))
    return 0
