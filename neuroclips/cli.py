"""``python -m neuroclips <command>``: the one command line of the project."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path


def _build_demo_data(args: argparse.Namespace) -> int:
    from .paths import cache_dir, demo_data_dir
    from .simulation.world import WorldConfig, build_world

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
        from .io import atomic_path
        from .simulation.world import world_report

        with atomic_path(args.report) as tmp:
            tmp.write_text(world_report(manifest, size, "python -m neuroclips build-demo-data --report " + args.report))
        print(f"report written to {args.report}")
    return 0


def _convert_cc2017(args: argparse.Namespace) -> int:
    from .data import convert_cc2017
    from .paths import cache_dir

    out = convert_cc2017(args.root, Path(args.cache) if args.cache else cache_dir(), subjects=tuple(args.subjects),
                         frame_dtype=args.frame_dtype)
    print(f"cc2017 cache ready at {out}")
    return 0


def _data_info(args: argparse.Namespace) -> int:
    from .data import load_subject

    subject = load_subject(args.data, args.subject, root=args.root)
    info = subject.describe()
    clip = subject.clip("test", args.clip)
    info["example_clip"] = {"index": clip.index, "fmri_shape": list(clip.fmri.shape),
                            "frames_shape": list(clip.frames.shape), "caption": clip.caption,
                            "categories": list(clip.categories), "movie": clip.movie, "position": clip.position}
    print(json.dumps(info, indent=2))
    return 0


def _export_flatmaps(args: argparse.Namespace) -> int:
    import numpy as np

    from .data import load_subject
    from .flatmaps.export import default_checkpoint, export_subject, print_summary
    from .paths import REPO_ROOT

    data = load_subject(args.data, args.subject, root=args.root)
    checkpoints = {}
    for model, given in (("perception", args.perception), ("semantics", args.semantics)):
        default = default_checkpoint(args.subject, model) if args.data == "demo" else None
        checkpoints[model] = Path(given) if given else (default if default is not None and default.exists() else None)
    if not any(checkpoints.values()):
        print("note: no reconstructor checkpoints found (train them with train-pr / train-sr, or pass --perception/"
              "--semantics); exporting the ground-truth maps only", file=sys.stderr)
    vertices = np.load(args.vertex_indices) if args.vertex_indices else None
    out = Path(args.out) if args.out else REPO_ROOT / "flatmaps"
    summary = export_subject(data, out / f"sub-{args.subject:02d}", checkpoints, vertices)
    print_summary(summary)
    return 0


def _train_zoo(args: argparse.Namespace) -> int:
    from .data.simulated import SimulatedSubject
    from .paths import cache_dir
    from .training import zoo_components
    from .zoo import zoo_dir

    world = SimulatedSubject(1).world  # the shipped simulated world's stimuli
    out = Path(args.out) if args.out else zoo_dir("mini") / args.component
    work = cache_dir() / "training" / "zoo" / args.component
    info = zoo_components.train(args.component, world.stimuli, out, work, steps=args.steps, resume=args.resume)
    print(json.dumps(info, indent=2))
    return 0


def _train_reconstructor(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .data import load_subject
    from .flatmaps.export import default_checkpoint
    from .paths import cache_dir
    from .training import reconstructors as rec

    name = "perception" if args.command == "train-pr" else "semantics"
    subject = load_subject(args.data, args.subject, root=args.root)
    out = Path(args.out) if args.out else default_checkpoint(args.subject, name)
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
            from .flatmaps.weights import load_state_dict

            init = load_state_dict(args.init_mindeye2)
        info = rec.train_semantics(subject, out, work, args.config, cfg, resume=args.resume, init_state_dict=init)
    print(json.dumps(info, indent=2))
    print(f"checkpoint written to {out}")
    return 0


def _evaluate_reconstructors(args: argparse.Namespace) -> int:
    from .metrics.reconstructors import evaluate_subject, reconstructors_report
    from .io import atomic_path, atomic_write_json

    results = json.loads(Path(args.results).read_text()) if args.results and Path(args.results).exists() else {}
    for s in args.subjects:
        r = evaluate_subject(s, n_random_seeds=args.seeds)
        results[str(s)] = r
        print(json.dumps(r, indent=2))
    if args.results:
        atomic_write_json(args.results, results)
    if args.report:
        cmd = "python -m neuroclips evaluate-reconstructors --subjects " + " ".join(map(str, args.subjects))
        with atomic_path(args.report) as tmp:
            tmp.write_text(reconstructors_report(results, cmd + (f" --results {args.results}" if args.results else "")
                                                 + f" --report {args.report}"))
        print(f"report written to {args.report}")
    return 0


def _evaluate_zoo(args: argparse.Namespace) -> int:
    from .data.simulated import SimulatedSubject
    from .io import atomic_path, atomic_write_json
    from .zoo import zoo_dir
    from .zoo.gates import evaluate_component
    from .zoo.report import zoo_report

    world = SimulatedSubject(1).world
    components = ["vae", "clip", "keyframe", "captioner", "t2v"] if args.component == "all" else [args.component]
    results = json.loads(Path(args.results).read_text()) if args.results and Path(args.results).exists() else {}
    for name in components:
        t0 = time.perf_counter()
        result = evaluate_component(name, world, n_clips=args.clips)
        result["eval_seconds"] = round(time.perf_counter() - t0, 1)
        training = zoo_dir("mini") / name / "training.json"
        if training.exists():
            result["training"] = json.loads(training.read_text())
        results[name] = result
        print(json.dumps({name: {k: v for k, v in result.items() if k != "training"}}, indent=2))
    if args.results:
        atomic_write_json(args.results, results)
    if args.report:
        command = "python -m neuroclips evaluate-zoo --component all"
        command += (f" --results {args.results}" if args.results else "") + f" --report {args.report}"
        with atomic_path(args.report) as tmp:
            tmp.write_text(zoo_report(results, command))
    return 0


def _bench_zoo(args: argparse.Namespace) -> int:
    from .data.simulated import SimulatedSubject
    from .zoo.bench import bench_zoo

    print(json.dumps(bench_zoo(SimulatedSubject(1).world, args.zoo, args.repeats, args.steps, args.threads), indent=2))
    return 0


def _guidance_settings(args: argparse.Namespace) -> dict:
    """The pipeline's guidance arguments from the CLI flags (same names as ``NeuroClipsPipeline.__call__``)."""
    return {"use_blurry": not args.no_blurry, "use_keyframe": not args.no_keyframe,
            "use_caption": False if args.no_caption else (True if args.caption else None),
            "alpha_mode": args.alpha_mode, "alpha_strength": args.alpha_strength,
            "controlnet_conditioning_scale": args.beta_scale, "num_inference_steps": args.steps,
            "guidance_scale": args.guidance_scale, "keyframe_init": args.keyframe_init,
            "keyframe_strength": args.keyframe_strength, "keyframe_unconditional": args.keyframe_unconditional}


def _reconstruct(args: argparse.Namespace) -> int:
    import numpy as np

    from .data import load_subject
    from .pipeline import NeuroClipsPipeline
    from .pipeline.export import save_reconstruction, write_mp4

    data = load_subject(args.data, args.subject, root=args.root)
    n = data.num_clips("test")
    last = args.clip + max(args.fuse, 1) - 1
    if not 0 <= args.clip <= last < n:
        raise IndexError(f"clip {args.clip}{f' to {last}' if args.fuse > 1 else ''} is out of range: subject "
                         f"{args.subject} has test clips 0 to {n - 1}")
    fps = max(data.frame_rates)
    clips = [data.clip("test", i, fps=fps) for i in range(args.clip, last + 1)]
    pipe = NeuroClipsPipeline.from_pretrained(args.zoo, subject=args.subject, reconstructors=args.reconstructors)
    settings = _guidance_settings(args)
    out = Path(args.out)
    info = {"source": data.source, "subject": args.subject, "reference_fps": fps}
    if args.fuse > 1:
        long = pipe.fuse(np.stack([c.fmri for c in clips]), references=[c.frames for c in clips], fusion=args.fusion,
                         seed=args.seed, **settings)
        for c, o in zip(clips, long.clips):
            save_reconstruction(o, out / f"clip-{c.index:04d}", {**info, "clip": c.index, "gt_caption": c.caption})
        write_mp4(long.video, out / "long_video.mp4", long.fps)
        from .io import atomic_write_json

        atomic_write_json(out / "long_video.json", {**info, "clips": [c.index for c in clips], "fused": long.fused,
                                                    "scores": long.scores, **long.settings})
        print(json.dumps({"out": str(out), "fused": long.fused, "scores": long.scores, **long.settings}, indent=2))
        return 0
    result = pipe(clips[0].fmri, reference=clips[0].frames, seed=args.seed, **settings)
    record = save_reconstruction(result, out, {**info, "clip": args.clip, "gt_caption": clips[0].caption})
    print(json.dumps({k: record[k] for k in ("caption", "prompt", "timings_seconds", "files")}, indent=2))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .pipeline.bench import bench_pipeline

    print(json.dumps(bench_pipeline(args.zoo, args.subject, args.clip, args.repeats, args.threads,
                                    num_inference_steps=args.steps), indent=2))
    return 0


def _evaluate_fusion(args: argparse.Namespace) -> int:
    from .data.simulated import SimulatedSubject
    from .pipeline import NeuroClipsPipeline
    from .training.fusion import evaluate_on_reconstructions

    pipe = NeuroClipsPipeline.from_pretrained("mini", subject=args.subject)
    result = evaluate_on_reconstructions(pipe, SimulatedSubject(args.subject), args.clips)
    print(json.dumps(result, indent=2))
    if args.results:
        from .io import atomic_write_json

        path = Path(args.results)
        all_results = json.loads(path.read_text()) if path.exists() else {}
        all_results[f"fusion_subject_{args.subject}"] = result
        atomic_write_json(path, all_results)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from .metrics.batch import run_evaluation

    if args.clip_list:
        clips = list(args.clip_list)
    else:
        clips = np.linspace(0, 1199, args.clips).round().astype(int).tolist()  # spread over the 5 test movies
    settings = {"num_inference_steps": args.steps} if args.steps != 25 else {}
    summary = run_evaluation(args.subjects, clips, [v.strip() for v in args.variants.split(",")], args.out, settings,
                             args.n_way, args.seed)
    if summary is not None:
        print(summary["markdown"])
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from .data.simulated import SimulatedSubject
    from .metrics.classification import train_category_classifier
    from .zoo import load_clip, zoo_dir
    from .zoo.clip import image_embeds

    clip = load_clip("mini")
    _, info = train_category_classifier(SimulatedSubject(args.subject), lambda f: image_embeds(clip, f).numpy(),
                                        Path(args.out) if args.out else zoo_dir("mini") / "classifier")
    print(json.dumps(info, indent=2))
    return 0


def _train_fusion(args: argparse.Namespace) -> int:
    from .data.simulated import SimulatedSubject
    from .training.fusion import FusionTrainingConfig, train_fusion
    from .zoo import load_clip, zoo_dir

    out = Path(args.out) if args.out else zoo_dir("mini") / "fusion"
    info = train_fusion(SimulatedSubject(args.subject), load_clip("mini"), out, FusionTrainingConfig(steps=args.steps))
    print(json.dumps(info, indent=2))
    return 0


def _weights(args: argparse.Namespace) -> int:
    if args.zoo == "mini":
        from .zoo import COMPONENTS, zoo_dir

        base = zoo_dir("mini")
        missing = [c for c in COMPONENTS if not (base / c).exists()]
        for c in COMPONENTS:
            print(f"{c:10s} {'missing' if c in missing else 'ok'}  {base / c}")
        if args.action == "download" and missing:
            print("the mini zoo is not downloaded: train its components with `python -m neuroclips train-zoo`")
        return 1 if missing else 0
    from .zoo.full.manifest import GROUPS
    from .zoo.full.weights import check_weights, download_weights

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


def _bench_full(args: argparse.Namespace) -> int:
    import torch

    from .zoo.full.bench import bench_random

    if not torch.cuda.is_available() and not args.allow_cpu:
        raise ValueError("bench-full measures the full-size models on a GPU; none is visible here "
                         "(--allow-cpu runs it on the CPU anyway: tens of GB of RAM and very slow)")
    steps = {k: v for k, v in (("num_inference_steps", args.steps), ("keyframe_steps", args.keyframe_steps)) if v}
    result = bench_random(repeats=args.repeats, **steps)
    print(json.dumps(result, indent=2))
    if args.results:
        from .io import atomic_write_json

        atomic_write_json(args.results, result)
    return 0


def _memory_plan(args: argparse.Namespace) -> int:
    from .zoo.full.memory import format_plan, plan

    p = plan(bytes_per_param=4 if args.dtype == "fp32" else 2)
    print(json.dumps(p, indent=2) if args.json else format_plan(p))
    return 0


def _add_guidance_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("guidance (the paper's ablations)")
    g.add_argument("--no-blurry", action="store_true", help="drop α: the video starts from pure noise")
    g.add_argument("--no-keyframe", action="store_true", help="drop β (and the caption, unless --caption)")
    c = g.add_mutually_exclusive_group()
    c.add_argument("--no-caption", action="store_true", help="drop γ: the prompt is 'a smooth video'")
    c.add_argument("--caption", action="store_true", help="keep γ even with --no-keyframe")
    g.add_argument("--alpha-mode", choices=["code_parity", "paper_eq5", "sdedit"], default="code_parity")
    g.add_argument("--alpha-strength", type=float, default=0.3, help="ϑ of Eq. 5 / SDEdit strength")
    g.add_argument("--beta-scale", type=float, default=1.0, help="SparseCtrl conditioning scale")
    g.add_argument("--keyframe-init", choices=["noise", "blurry"], default="noise",
                   help="start unCLIP from noise (reference) or the blurry first frame (paper)")
    g.add_argument("--keyframe-strength", type=float, default=0.8, help="with --keyframe-init blurry")
    g.add_argument("--keyframe-unconditional", choices=["zeros", "noise"],
                   help="unCLIP's CFG input: zero tokens (mini zoo's training) or N(0,1) tokens (reference); "
                        "default: the zoo's (mini: zeros, full: noise)")
    g.add_argument("--steps", type=int, default=25, help="DDIM steps of the video model")
    g.add_argument("--guidance-scale", type=float, default=8.5, help="CFG of the video model")
    g.add_argument("--seed", type=int, help="default: the reference's seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m neuroclips", description=__doc__.split("\n")[0].strip("`"))
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    p = sub.add_parser("build-demo-data", help="build the simulated world (3 subjects) into demo_data/")
    p.add_argument("--subjects", type=int, nargs="+", help="only these subjects (default: all)")
    p.add_argument("--out", help="output folder (default: demo_data/simulated)")
    p.add_argument("--cache", help="cache for the regenerable arrays (default: $NEUROCLIPS_CACHE)")
    p.add_argument("--report", help="also write the measured properties as Markdown to this file")
    p.set_defaults(func=_build_demo_data)

    p = sub.add_parser("convert-cc2017", help="convert the real cc2017 .pt files into a memory-mappable cache")
    p.add_argument("--root", required=True, help="folder with subj0N_*_fmri.pt, GT_*_3fps.pt, GT_*_caption.pt")
    p.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--cache", help="cache folder (default: $NEUROCLIPS_CACHE)")
    p.add_argument("--frame-dtype", choices=["uint8", "float32"], default="uint8")
    p.set_defaults(func=_convert_cc2017)

    p = sub.add_parser("data-info", help="summarise a subject of a data source and one of its test clips")
    p.add_argument("--data", choices=["demo", "cc2017"], default="demo")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--root", help="cc2017 dataset folder (for --data cc2017)")
    p.add_argument("--clip", type=int, default=0)
    p.set_defaults(func=_data_info)

    p = sub.add_parser("train-zoo", help="train a component of the mini model zoo on the simulated world")
    p.add_argument("--component", choices=["tokenizer", "vae", "clip", "keyframe", "captioner", "t2v"], required=True)
    p.add_argument("--steps", type=int, help="training steps (default: the component's config)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the cache")
    p.add_argument("--out", help="output folder (default: demo_data/zoo/mini/<component>)")
    p.set_defaults(func=_train_zoo)

    for cmd, what in (("train-pr", "Perception Reconstructor"), ("train-sr", "Semantics Reconstructor")):
        p = sub.add_parser(cmd, help=f"train the {what} of one subject (spec §{'2' if cmd == 'train-pr' else '3'})")
        p.add_argument("--subject", type=int, required=True)
        p.add_argument("--data", choices=["demo", "cc2017"], default="demo")
        p.add_argument("--root", help="cc2017 dataset folder (for --data cc2017)")
        p.add_argument("--config", choices=["mini", "full"], default="mini")
        p.add_argument("--steps", type=int, nargs="+" if cmd == "train-sr" else None,
                       help="training steps" + (" (stage 1 [stage 2])" if cmd == "train-sr" else ""))
        p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the cache")
        p.add_argument("--out", help="output folder (default: demo_data/reconstructors/sub-NN/<model>)")
        if cmd == "train-sr":
            p.add_argument("--init-mindeye2", help="MindEye2 checkpoint (last.pth or .safetensors) to start from")
        p.set_defaults(func=_train_reconstructor)

    p = sub.add_parser("evaluate-reconstructors", help="retrieval, blurry-video SSIM/PixCorr and voxel weights on "
                       "the simulated test set")
    p.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--seeds", type=int, default=10, help="random 300-way folds are averaged over this many seeds")
    p.add_argument("--results", help="JSON file of results to update (e.g. docs/reconstructors.json)")
    p.add_argument("--report", help="Markdown table of all results in --results (e.g. docs/reconstructors.md)")
    p.set_defaults(func=_evaluate_reconstructors)

    p = sub.add_parser("evaluate-zoo", help="measure the mini zoo's quality gates on held-out simulated test clips")
    p.add_argument("--component", choices=["vae", "clip", "keyframe", "captioner", "t2v", "all"], required=True)
    p.add_argument("--clips", type=int, help="held-out test clips, spread over the test movies "
                   "(default: 300; 24 for t2v)")
    p.add_argument("--results", help="JSON file of measured gates to update (e.g. docs/zoo-gates.json)")
    p.add_argument("--report", help="also write all results of --results as a Markdown table (e.g. docs/zoo.md)")
    p.set_defaults(func=_evaluate_zoo)

    p = sub.add_parser("bench-zoo", help="latency of keyframe + caption + 16-frame video on one test clip")
    p.add_argument("--zoo", choices=["mini"], default="mini")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=25, help="DDIM steps of the keyframe and the video")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.set_defaults(func=_bench_zoo)

    p = sub.add_parser("reconstruct", help="reconstruct test clips: mp4s, keyframe PNG, caption, settings JSON")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--clip", type=int, required=True, help="test clip index (the first one with --fuse)")
    p.add_argument("--data", choices=["demo", "cc2017"], default="demo")
    p.add_argument("--root", help="cc2017 dataset folder (for --data cc2017)")
    p.add_argument("--zoo", choices=["mini", "full"], default="mini")
    p.add_argument("--reconstructors", help="folder with sub-NN/{perception,semantics} (default: the shipped ones)")
    _add_guidance_arguments(p)
    p.add_argument("--fuse", type=int, default=1, metavar="N", help="multi-fMRI fusion of N consecutive clips (≤ 3)")
    p.add_argument("--fusion", choices=["classifier", "cosine"], default="classifier",
                   help="how fusion judges two keyframes alike (spec §6)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_reconstruct)

    p = sub.add_parser("bench", help="per-stage latency of the whole pipeline on one test clip, cold and warm")
    p.add_argument("--zoo", choices=["mini"], default="mini")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--clip", type=int, default=42)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=25, help="DDIM steps of the video model")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.set_defaults(func=_bench)

    p = sub.add_parser("train-fusion", help="train multi-fMRI fusion's keyframe-similarity classifier (spec §6)")
    p.add_argument("--subject", type=int, default=1, help="simulated subject whose training clips give the pairs")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", help="output folder (default: demo_data/zoo/mini/fusion)")
    p.set_defaults(func=_train_fusion)

    p = sub.add_parser("evaluate", help="the paper's metrics over test clips and ablation variants (Tables 1-2); "
                       "shard with `accelerate launch` (GPUs) or `python -m torch.distributed.run` (CPUs)")
    p.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--variants", default="full,no-keyframe,no-blurry,no-caption")
    p.add_argument("--clips", type=int, default=1200, help="N test clips spread evenly over the test set")
    p.add_argument("--clip-list", type=int, nargs="+", help="these test clips instead")
    p.add_argument("--steps", type=int, default=25, help="DDIM steps of the video model")
    p.add_argument("--n-way", type=int, default=10, help="the larger N of N-way classification (the mini zoo has "
                   "~17 classes; the paper's 50 needs ImageNet/Kinetics classifiers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/evaluation", help="records/, summary.{md,csv,html,json}")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("train-classifier", help="the mini zoo's category classifier for N-way classification")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--out", help="default: demo_data/zoo/mini/classifier")
    p.set_defaults(func=_train_classifier)

    p = sub.add_parser("evaluate-fusion", help="fusion's decisions on neighbouring reconstructed vs GT keyframes")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--clips", type=int, default=120, help="the first N test clips")
    p.add_argument("--results", help="JSON file to update (e.g. docs/pipeline.json)")
    p.set_defaults(func=_evaluate_fusion)

    p = sub.add_parser("weights", help="check or download a model zoo's weights (the full zoo's manifest, spec §9.1)")
    p.add_argument("action", choices=["check", "download"])
    p.add_argument("--zoo", choices=["mini", "full"], default="full")
    p.add_argument("--root", help="where the full zoo lives (default: $NEUROCLIPS_FULL_ZOO or <cache>/zoo/full)")
    p.add_argument("--group", nargs="+", choices=["inference", "training", "all"], default=["inference"],
                   help="inference: what the app and `reconstruct` need; training: what training PR/SR adds")
    p.add_argument("--subject", type=int, nargs="+", default=[1, 2, 3], help="subjects whose reconstructors to include")
    p.add_argument("--only", nargs="+", metavar="ARTEFACT", help="only these artefacts of the manifest")
    p.add_argument("--reconstructors-repo", help="Hub repo of the trained PR/SR (or $NEUROCLIPS_RECONSTRUCTORS_REPO)")
    p.add_argument("--base-model", help="Realistic Vision source: URL, <repo_id>:<file>[@revision] or a local file "
                                        "(or $NEUROCLIPS_BASE_MODEL; default: AnimateDiff's Hub backup of the V6.0 B1 file)")
    p.add_argument("--dry-run", action="store_true", help="download: list what would be fetched, fetch nothing")
    p.set_defaults(func=_weights)

    p = sub.add_parser("bench-full", help="latency and peak GPU memory per stage of one clip through the full-size "
                                          "architectures with random weights (fp16; no downloads needed)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--steps", type=int, help="video sampler steps (default: the reference's 25)")
    p.add_argument("--keyframe-steps", type=int, help="unCLIP steps (default: the reference's 38)")
    p.add_argument("--results", help="write the JSON here too (e.g. docs/benchmarks-full.json)")
    p.add_argument("--allow-cpu", action="store_true")
    p.set_defaults(func=_bench_full)

    p = sub.add_parser("memory-plan", help="the full zoo's parameter counts (exact, from the architectures) and "
                                           "per-stage GPU memory (weights + estimated activations)")
    p.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], default="fp16")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_memory_plan)

    p = sub.add_parser("export-flatmaps", help="voxel-weight flatmaps of a subject: PNG, CIFTI-2 dscalar, per-area CSV")
    p.add_argument("--subject", type=int, required=True)
    p.add_argument("--data", choices=["demo", "cc2017"], default="demo")
    p.add_argument("--root", help="cc2017 dataset folder (for --data cc2017)")
    p.add_argument("--perception", help="PR checkpoint (.safetensors, folder or .pth); default: the shipped one")
    p.add_argument("--semantics", help="SR checkpoint; default: the shipped one")
    p.add_argument("--vertex-indices", help=".npy of the voxels' grayordinate indices (needed for cc2017, spec §8)")
    p.add_argument("--out", help="output folder (default: flatmaps/)")
    p.set_defaults(func=_export_flatmaps)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from .data import DataError

    try:
        return args.func(args)
    except (DataError, IndexError, ValueError, KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
