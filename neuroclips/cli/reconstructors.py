"""Reconstructor commands: ``train-pr``, ``train-sr``, ``evaluate-reconstructors``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .data import add_data_arguments, simulated_subjects

TRAIN_COMMANDS = {"train-pr": "perception", "train-sr": "semantics"}


def register(subparsers) -> None:
    for cmd, what in (("train-pr", "Perception Reconstructor"), ("train-sr", "Semantics Reconstructor")):
        p = subparsers.add_parser(cmd, help=f"train the {what} of one subject "
                                            f"(spec §{'2' if cmd == 'train-pr' else '3'})")
        p.add_argument("--subject", type=int, required=True)
        add_data_arguments(p)
        p.add_argument("--config", choices=["mini", "full"], default="mini")
        p.add_argument("--steps", type=int, nargs="+" if cmd == "train-sr" else None,
                       help="training steps" + (" (stage 1 [stage 2])" if cmd == "train-sr" else ""))
        p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the cache")
        p.add_argument("--out", help="output folder (default: demo_data/reconstructors/sub-NN/<model>)")
        if cmd == "train-sr":
            p.add_argument("--init-mindeye2", help="MindEye2 checkpoint (last.pth or .safetensors) to start from")
        p.set_defaults(func=train_reconstructor)

    p = subparsers.add_parser("evaluate-reconstructors", help="retrieval, blurry-video SSIM/PixCorr and voxel "
                              "weights on the simulated test set")
    p.add_argument("--subjects", type=int, nargs="+", help="default: every built simulated subject")
    p.add_argument("--seeds", type=int, default=10, help="random 300-way folds are averaged over this many seeds")
    p.add_argument("--results", help="JSON file of results to update (e.g. docs/reconstructors.json)")
    p.add_argument("--report", help="Markdown table of all results in --results (e.g. docs/reconstructors.md)")
    p.set_defaults(func=evaluate_reconstructors)


def train_reconstructor(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..data import load_subject
    from ..paths import cache_dir, reconstructor_dir
    from ..training import reconstructors as rec

    name = TRAIN_COMMANDS[args.command]
    subject = load_subject(args.data, args.subject, root=args.root)
    out = Path(args.out) if args.out else reconstructor_dir(args.subject, name)
    work = cache_dir() / "training" / name / f"{subject.source}-sub-{args.subject:02d}-{args.config}"
    if name == "perception":
        cfg = rec.PerceptionTrainingConfig()
        if args.steps:
            cfg = replace(cfg, steps=args.steps)
        info = rec.train_perception(subject, out, work, args.config, cfg, resume=args.resume)
    else:
        cfg = rec.SemanticsTrainingConfig()
        if args.steps:
            cfg = replace(cfg, stage1_steps=args.steps[0], stage2_steps=args.steps[-1])
        init = None
        if args.init_mindeye2:
            from ..flatmaps.weights import load_state_dict

            init = load_state_dict(args.init_mindeye2)
        info = rec.train_semantics(subject, out, work, args.config, cfg, resume=args.resume, init_state_dict=init)
    print(json.dumps(info, indent=2))
    print(f"checkpoint written to {out}")
    return 0


def evaluate_reconstructors(args: argparse.Namespace) -> int:
    from ..evaluation.reconstructors import evaluate_subject, reconstructors_report
    from ..io import atomic_path, atomic_write_json

    subjects = simulated_subjects(args.subjects)
    results = json.loads(Path(args.results).read_text()) if args.results and Path(args.results).exists() else {}
    for s in subjects:
        r = evaluate_subject(s, n_random_seeds=args.seeds)
        results[str(s)] = r
        print(json.dumps(r, indent=2))
    if args.results:
        atomic_write_json(args.results, results)
    if args.report:
        cmd = "python -m neuroclips evaluate-reconstructors --subjects " + " ".join(map(str, subjects))
        with atomic_path(args.report) as tmp:
            tmp.write_text(reconstructors_report(results, cmd + (f" --results {args.results}" if args.results else "")
                                                 + f" --report {args.report}"))
        print(f"report written to {args.report}")
    return 0
