"""Evaluation commands: ``evaluate`` (the paper's Tables 1-2), ``evaluate-fusion``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .data import simulated_subjects

def register(subparsers) -> None:
    from ..zoo import zoo_names

    p = subparsers.add_parser("evaluate", help="the paper's metrics over test clips and ablation variants "
                              "(Tables 1-2); shard with `accelerate launch` (GPUs) or "
                              "`python -m torch.distributed.run` (CPUs)")
    p.add_argument("--subjects", type=int, nargs="+", help="simulated subjects (default: every built one)")
    p.add_argument("--variants", default="full,no-keyframe,no-blurry,no-caption")
    p.add_argument("--clips", type=int, help="N test clips spread evenly over the test set (default: all of them)")
    p.add_argument("--clip-list", type=int, nargs="+", help="these test clips instead")
    p.add_argument("--zoo", choices=zoo_names(), default="mini",
                   help="the zoo whose reconstructions are measured (its classifier/ does the N-way classification)")
    p.add_argument("--steps", type=int, help="DDIM steps of the video model (default: the zoo's)")
    p.add_argument("--n-way", type=int, default=10, help="the larger N of N-way classification (the mini zoo has "
                   "~17 classes; the paper's 50 needs ImageNet/Kinetics classifiers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/evaluation", help="records/, summary.{md,csv,html,json}")
    p.set_defaults(func=evaluate)

    p = subparsers.add_parser("evaluate-fusion", help="fusion's decisions on neighbouring reconstructed vs GT "
                              "keyframes")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--clips", type=int, default=120, help="the first N test clips")
    p.add_argument("--results", help="JSON file to update (e.g. docs/pipeline.json)")
    p.set_defaults(func=evaluate_fusion)


def evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data import load_subject
    from ..evaluation.batch import run_evaluation

    subjects = simulated_subjects(args.subjects)
    if args.clip_list:
        clips = list(args.clip_list)
    else:  # spread over the test movies
        n = load_subject("simulated", subjects[0]).num_clips("test")
        clips = np.linspace(0, n - 1, min(args.clips or n, n)).round().astype(int).tolist()
    settings = {"num_inference_steps": args.steps} if args.steps is not None else {}
    summary = run_evaluation(subjects, clips, [v.strip() for v in args.variants.split(",")], args.out, settings,
                             args.n_way, args.seed, zoo=args.zoo)
    if summary is not None:
        print(summary["markdown"])
    return 0


def evaluate_fusion(args: argparse.Namespace) -> int:
    from ..data.simulated import SimulatedSubject
    from ..evaluation.fusion import evaluate_on_reconstructions
    from ..pipeline import NeuroClipsPipeline

    pipe = NeuroClipsPipeline.from_pretrained("mini", subject=args.subject)
    result = evaluate_on_reconstructions(pipe, SimulatedSubject(args.subject), args.clips)
    print(json.dumps(result, indent=2))
    if args.results:
        from ..io import atomic_write_json

        path = Path(args.results)
        all_results = json.loads(path.read_text()) if path.exists() else {}
        all_results[f"fusion_subject_{args.subject}"] = result
        atomic_write_json(path, all_results)
    return 0
