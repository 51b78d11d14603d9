"""Weights and full-zoo commands: ``weights``, ``bench-full``, ``memory-plan``, ``bench-load``."""

from __future__ import annotations

import argparse
import json
import logging
import sys


def register(subparsers) -> None:
    from ..data import available_subjects
    from ..zoo import zoo_names

    p = subparsers.add_parser("weights", help="check or download a model zoo's weights (the full zoo's manifest, "
                              "spec §9.1)")
    p.add_argument("action", choices=["check", "download"])
    p.add_argument("--zoo", choices=zoo_names(), default="full")
    p.add_argument("--root", help="where the full zoo lives (default: $NEUROCLIPS_FULL_ZOO or <cache>/zoo/full)")
    p.add_argument("--group", nargs="+", choices=["inference", "training", "all"], default=["inference"],
                   help="inference: what the app and `reconstruct` need; training: what training PR/SR adds")
    subjects = available_subjects("cc2017")
    p.add_argument("--subject", type=int, nargs="+", default=subjects,
                   help=f"subjects whose reconstructors to include (default: {' '.join(map(str, subjects))})")
    p.add_argument("--only", nargs="+", metavar="ARTEFACT", help="only these artefacts of the manifest")
    p.add_argument("--reconstructors-repo", help="Hub repo of the trained PR/SR (or $NEUROCLIPS_RECONSTRUCTORS_REPO)")
    p.add_argument("--base-model", help="Realistic Vision source: URL, <repo_id>:<file>[@revision] or a local file "
                                        "(or $NEUROCLIPS_BASE_MODEL; default: AnimateDiff's Hub backup of the V6.0 B1 file)")
    p.add_argument("--dry-run", action="store_true", help="download: list what would be fetched, fetch nothing")
    p.set_defaults(func=weights)

    p = subparsers.add_parser("bench-full", help="latency and peak GPU memory per stage of one clip through the "
                              "full-size architectures with random weights (fp16; no downloads needed)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--steps", type=int, help="video sampler steps (default: the reference's 25)")
    p.add_argument("--keyframe-steps", type=int, help="unCLIP steps (default: the reference's 38)")
    p.add_argument("--results", help="write the JSON here too (e.g. docs/benchmarks-full.json)")
    p.add_argument("--allow-cpu", action="store_true")
    p.set_defaults(func=bench_full)

    p = subparsers.add_parser("memory-plan", help="the full zoo's parameter counts (exact, from the architectures) "
                              "and per-stage GPU memory (weights + estimated activations)")
    p.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], default="fp16")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=memory_plan)

    from ..evaluation.bench_load import COMPONENTS, DEFAULT_COMPONENTS, RECIPES

    p = subparsers.add_parser("bench-load", help="peak host memory of loading each full-zoo component from its real "
                              "file format, on full-size synthetic checkpoints with random weights (no downloads)")
    p.add_argument("--components", default=",".join(DEFAULT_COMPONENTS),
                   help=f"comma-separated, from {', '.join(COMPONENTS)}, or 'all' (default: %(default)s)")
    p.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], default="fp16", help="the target dtype")
    p.add_argument("--dir", default="/tmp/neuroclips-bench-load",
                   help="where the synthetic checkpoints are written once and kept (tens of GB; default: %(default)s)")
    p.add_argument("--json", help="write the results here too")
    p.add_argument("--recipe", choices=RECIPES, default="lean",
                   help="lean: the loaders as assemble_components calls them; fp32-then-cast: load in fp32, then cast "
                        "(how the full zoo loaded before issue 19)")
    p.add_argument("--code", help="load with the neuroclips of this checkout (e.g. a git worktree of an older commit)")
    p.add_argument("--max-rss-gib", type=float, default=13.0,
                   help="stop a load whose resident set passes this (default: %(default)s)")
    p.set_defaults(func=bench_load)


def _mini_weights(args: argparse.Namespace) -> int:
    from ..zoo import zoo_dir
    from ..zoo.mini import COMPONENTS

    base = zoo_dir("mini")
    missing = [c for c in COMPONENTS if not (base / c).exists()]
    for c in COMPONENTS:
        print(f"{c:10s} {'missing' if c in missing else 'ok'}  {base / c}")
    if args.action == "download" and missing:
        print("the mini zoo is not downloaded: train its components with `python -m neuroclips train-zoo`")
    return 1 if missing else 0


def weights(args: argparse.Namespace) -> int:
    if args.zoo == "mini":
        return _mini_weights(args)
    if args.zoo != "full":
        raise ValueError(f"`weights` knows the mini and full zoos' weights, not {args.zoo!r}'s")
    from ..zoo.full.manifest import GROUPS
    from ..zoo.full.weights import check_weights, download_weights

    groups = GROUPS if "all" in args.group else tuple(dict.fromkeys(args.group))
    kwargs = {"root": args.root, "groups": groups, "subjects": tuple(args.subject),
              "only": tuple(args.only) if args.only else None,
              "reconstructors_repo": args.reconstructors_repo, "base_model": args.base_model}
    if args.action == "check":
        report = check_weights(**kwargs)
    else:
        try:
            report = download_weights(**kwargs, dry_run=args.dry_run)
        except Exception as err:  # noqa: BLE001 - network, auth, gated repo, refused file: all end the same way
            logging.getLogger(__name__).info("download failed", exc_info=True)
            print(f"error: the download stopped ({type(err).__name__}: {err})\nrun the same command again to resume "
                  "(-v shows the traceback)", file=sys.stderr)
            return 1
    print(report.format())
    return 0 if report.complete else 1


def bench_full(args: argparse.Namespace) -> int:
    import torch

    from ..evaluation.bench_full import bench_random

    if not torch.cuda.is_available() and not args.allow_cpu:
        raise ValueError("bench-full measures the full-size models on a GPU; none is visible here "
                         "(--allow-cpu runs it on the CPU anyway: tens of GB of RAM and very slow)")
    steps = {k: v for k, v in (("num_inference_steps", args.steps), ("keyframe_steps", args.keyframe_steps)) if v}
    result = bench_random(repeats=args.repeats, **steps)
    print(json.dumps(result, indent=2))
    if args.results:
        from ..io import atomic_write_json

        atomic_write_json(args.results, result)
    return 0


def memory_plan(args: argparse.Namespace) -> int:
    from ..zoo.full.memory import format_plan, plan

    p = plan(bytes_per_param=4 if args.dtype == "fp32" else 2)
    print(json.dumps(p, indent=2) if args.json else format_plan(p))
    return 0


def bench_load(args: argparse.Namespace) -> int:
    from ..evaluation.bench_load import COMPONENTS, bench_load as run

    components = COMPONENTS if args.components == "all" else tuple(c.strip() for c in args.components.split(",") if c.strip())
    result = run(components, args.dir, args.dtype, args.recipe, args.code, args.max_rss_gib)
    if args.json:
        from ..io import atomic_write_json

        atomic_write_json(args.json, result)
    return 0 if all(r.get("within_target") for r in result["results"]) else 1
