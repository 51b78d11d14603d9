"""The mini zoo's measured gates as Markdown (docs/zoo.md)."""

from __future__ import annotations

NAMES = {"vae": "VAE (`AutoencoderKL`, f=8, 4 latent channels)",
         "clip": "CLIP (`CLIPModel`, ViT 8-px patches: 8x8 tokens x 128)",
         "keyframe": "keyframe generator (unCLIP `UNet2DConditionModel` on CLIP tokens, DDIM)",
         "captioner": "captioner (`Blip2ForConditionalGeneration`, OPT decoder)",
         "t2v": "text-to-video (`UNetMotionModel` + `SparseControlNetModel`, 16 frames)"}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _rates(r: dict) -> str:
    return f"{_pct(r['all'])} (seen categories {_pct(r['seen_categories'])}, test-only {_pct(r['test_only_categories'])})"


def _measured(name: str, r: dict) -> tuple[str, str]:
    if name == "vae":
        return (f"PSNR ≥ {r['gate_db']} dB", f"{r['psnr_db_mean']} ± {r['psnr_db_sd']} dB over {r['n_frames']} frames "
                f"(seen categories {r['psnr_db_seen_categories']}, test-only {r['psnr_db_test_only_categories']})")
    if name == "clip":
        g = r["gates"]
        return (f"caption top-1 ≥ {_pct(g['retrieval_top1'])}; category ≥ {_pct(g['category_accuracy'])}",
                f"caption top-1 {_rates(r['retrieval_top1'])} among {r['n_candidate_captions']} test captions "
                f"(chance {_pct(r['retrieval_chance'])}; ceiling from one frame {_pct(r.get('retrieval_ceiling_from_one_frame'))}; "
                f"ignoring the camera phrase "
                f"{_pct(r['retrieval_top1_ignoring_camera']['all'])}); zero-shot category "
                f"{_rates(r['category_accuracy'])} (chance {_pct(r['category_chance'])})")
    if name == "captioner":
        return (f"names the category ≥ {_pct(r['gate'])}", f"{_rates(r['names_category'])} of {r['n_clips']} test keyframes")
    if name == "keyframe":
        return (f"top-1 of 300 ≥ {_pct(r['gate'])}",
                f"top-1 {_rates(r['top1'])}, top-5 {_pct(r['top5']['all'])} (chance {_pct(r['chance'])}); "
                f"{r['num_inference_steps']} DDIM steps, CFG {r['guidance_scale']}")
    if name == "t2v":
        return (f"CLIP-pcc ≥ {r['gate_clip_pcc']}; closer to GT than the blurred input",
                f"CLIP-pcc {r['clip_pcc_3fps']} (6 frames at 3 FPS; {r['clip_pcc_8fps']} over 16 frames); CLIP "
                f"similarity to GT {r['similarity_to_gt_generated']} vs blurred input {r['similarity_to_gt_blurred_input']} "
                f"(generated closer in {_pct(r['clips_generated_closer_than_blurred'])} of {r['n_clips']} clips; "
                f"blur σ {r['blur_sigma_px']} px; {r['num_inference_steps']} DDIM steps, CFG {r['guidance_scale']})")
    return "", ""


def _training(t: dict | None) -> str:
    if not t:
        return ""
    batch = t.get("config", {}).get("batch_size")
    return f"{t.get('steps')} steps × batch {batch}, {t.get('seconds_this_run')} s (last run), 2 CPU cores"


def zoo_report(results: dict, command: str) -> str:
    lines = ["# Mini model zoo: quality gates", "",
             f"Reproduce with `{command}`. Measured on held-out simulated test clips spread evenly over the 5 test "
             "movies, on CPU (2 cores). \"Test-only\" categories (moon, clock, cells) never appear in training.", "",
             "| component | gate | measured | passed | training |", "|---|---|---|---|---|"]
    for name in ("vae", "clip", "keyframe", "captioner", "t2v"):
        r = results.get(name)
        if r is None:
            lines.append(f"| {NAMES[name]} | see the issue | not measured yet | — | — |")
            continue
        gate, measured = _measured(name, r)
        lines.append(f"| {NAMES[name]} | {gate} | {measured} | {'yes' if r['passed'] else '**no**'} | "
                     f"{_training(r.get('training'))} |")
    examples = results.get("captioner", {}).get("examples")
    if examples:
        lines += ["", "Captioner examples (ground truth → generated):", ""]
        lines += [f"- {e['truth']} → {e['generated']}" for e in examples]
    return "\n".join(lines) + "\n"
