"""``doctor``: the self-check a new host runs first (versions, device, dtypes, a tiny pipeline, stage offload)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from ..evaluation.doctor import DTYPES

    p = subparsers.add_parser("doctor", help="self-check of this host: versions, device, dtype support, the "
                              "torchvision shim, a tiny pipeline in fp16/bf16 (latency, peak memory) and stage offload")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda where present, else cpu)")
    p.add_argument("--dtypes", nargs="+", choices=[d for d in DTYPES if d != "fp32"], default=["fp16", "bf16"],
                   help="dtypes to run besides fp32, the reference")
    p.add_argument("--steps", type=int, default=2, help="sampler steps of each stage (default 2; the tiny zoo's "
                   "outputs mean nothing, but a single step decodes x0 from t=961, which magnifies bf16's rounding "
                   "twentyfold, so use at least 2)")
    p.add_argument("--repeats", type=int, default=1, help="warm runs after the cold one")
    p.add_argument("--json", metavar="FILE", help="write the whole report here (what docs/benchmarks.md records)")
    p.set_defaults(func=doctor)


def doctor(args: argparse.Namespace) -> int:
    from ..evaluation.doctor import format_report, run_doctor
    from ..io import atomic_write_json

    if args.steps < 1 or args.repeats < 0:
        raise ValueError(f"--steps must be >= 1 and --repeats >= 0, got {args.steps} and {args.repeats}")
    report = run_doctor(args.device, tuple(args.dtypes), steps=args.steps, repeats=args.repeats)
    print(format_report(report))
    if args.json:
        atomic_write_json(Path(args.json), report, indent=1)
        print(f"wrote {args.json}")
    return 0 if report["ok"] else 1
