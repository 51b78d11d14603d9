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
                f"top-1 {_rates(r['top1'])}, top-5 {_pct(r['top5']['all'])} (chance {_pct(r['chance'])}; the source "
                f"itself after a VAE round trip: {_pct(r.get('top1_vae_round_trip', {}).get('all'))}); "
                f"{r['num_inference_steps']} DDIM steps, CFG {r['guidance_scale']}")
    if name == "t2v":
        return (f"CLIP-pcc ≥ {r['gate_clip_pcc']}; closer to GT than the blurred input",
                f"CLIP-pcc {r['clip_pcc_3fps']} (6 frames at 3 FPS; {r['clip_pcc_8fps']} over 16 frames); CLIP "
                f"similarity to GT {r['similarity_to_gt_generated']} vs blurred input {r['similarity_to_gt_blurred_input']} "
                f"(generated closer in {_pct(r['clips_generated_closer_than_blurred'])} of {r['n_clips']} clips; "
                f"blur σ {r['blur_sigma_px']} px; {r['num_inference_steps']} DDIM steps, CFG {r['guidance_scale']}, α as the "
                f"reference: noise at the first timestep)" + _sdedit_alpha(r.get("sdedit")))
    return "", ""


def _sdedit_alpha(p: dict | None) -> str:
    if not p:
        return ""
    return (f"; with α as SDEdit (strength {p['alpha_strength']}, not the reference's method): CLIP-pcc {p['clip_pcc_3fps']}, similarity "
            f"{p['similarity_to_gt_generated']} vs {p['similarity_to_gt_blurred_input']}, closer in "
            f"{_pct(p['clips_generated_closer_than_blurred'])} of clips")


def _training(t: dict | None) -> str:
    if not t:
        return ""
    batch = t.get("config", {}).get("batch_size")
    return f"{t.get('steps')} steps × batch {batch}, {t.get('seconds_this_run')} s (last run), 2 CPU cores"


def zoo_sizes(results: dict, root=None) -> dict | None:
    """Size of the shipped zoo, its largest file, and the summed training time (runs resumed part-way are
    extrapolated from their last run's pace)."""
    from ..zoo import zoo_dir

    root = zoo_dir("mini", root)
    files = [f for f in root.rglob("*") if f.is_file()]
    if not files:
        return None
    largest = max(files, key=lambda f: f.stat().st_size)
    seconds = 0.0
    for r in results.values():
        t = r.get("training") if isinstance(r, dict) else None
        if t and t.get("seconds_this_run"):
            done = t["steps"] - t.get("resumed_from", 0)
            seconds += t["seconds_this_run"] * t["steps"] / max(done, 1)
    return {"zoo_mib": round(sum(f.stat().st_size for f in files) / 2**20, 1),
            "largest_file_mib": round(largest.stat().st_size / 2**20, 2), "largest_file": str(largest.relative_to(root)),
            "training_minutes": round(seconds / 60)}


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
    clip = results.get("clip")
    if clip and not clip["passed"]:
        lines += ["", "**Where a gate is out of reach, and why.** The CLIP caption-retrieval gate (50 %) cannot be met "
                  "from a single frame in this world: a caption names the camera motion (static / panning left or "
                  "right / zooming in or out), which one still image does not show. An oracle that knows the true "
                  f"content and guesses the camera phrase from the frame alone reaches "
                  f"{_pct(clip.get('retrieval_ceiling_from_one_frame'))}; the model reaches "
                  f"{_pct(clip['retrieval_top1']['all'])}, and {_pct(clip['retrieval_top1_ignoring_camera']['all'])} "
                  "when the camera phrase is ignored. Category accuracy misses 80 % only on the test-only categories "
                  "(moon, clock, cells; about a sixth of the clips), whose words the text tower never saw in "
                  f"training: {_pct(clip['category_accuracy']['seen_categories'])} on seen categories. Tried: "
                  "longer training (1,200 steps x 128), neighbour-frame augmentation, unique-caption InfoNCE; the "
                  "numbers above are the best achieved. Gates are not lowered: the table reports them as missed."]
    kf = results.get("keyframe")
    if kf and not kf["passed"]:
        tried = ", ".join(f"CFG {o['guidance_scale']} / {o['num_inference_steps']} steps: {_pct(o['top1'])}"
                          for o in kf.get("other_settings", []))
        lines += ["", "**Keyframe generator.** Exact top-1 among 300 test keyframes misses the 50 % gate: consecutive "
                  "test clips often film the same shot a fraction of a second apart, so near-duplicates compete with "
                  f"the source; top-5 is {_pct(kf['top5']['all'])}. Even the source itself after a VAE round trip is "
                  f"top-1 in only {_pct(kf.get('top1_vae_round_trip', {}).get('all'))} of cases, a ceiling for any "
                  f"generator in this latent space. Other sampler settings tried: {tried}."]
    t2v = results.get("t2v")
    if t2v and not t2v["passed"]:
        lines += ["", "**Text-to-video.** Videos are smooth (CLIP-pcc passes) but, with the reference's α (blurry latents "
                  "noised to t = 961, where √ᾱ ≈ 0.05), they are further from the GT than a 4-px blur of the GT itself, "
                  "which keeps almost all of a 64-px frame's CLIP content. The SparseCtrl branch (zero-initialised) "
                  "carries little of the keyframe after 1,200 steps x 4 clips (30 min on 2 cores): without α the "
                  "output loses the scene."
                  + (" α as SDEdit is reported beside it." if t2v.get("sdedit") else "")]
    sizes = zoo_sizes(results)
    if sizes:
        lines += ["", f"Shipped zoo: {sizes['zoo_mib']} MiB in `demo_data/zoo/mini` (largest file {sizes['largest_file_mib']} "
                  f"MiB, `{sizes['largest_file']}`); total training time {sizes['training_minutes']} min on 2 CPU cores "
                  "(no GPU was lent to this work)."]
    examples = results.get("captioner", {}).get("examples")
    if examples:
        lines += ["", "Captioner examples (ground truth → generated):", ""]
        lines += [f"- {e['truth']} → {e['generated']}" for e in examples]
    return "\n".join(lines) + "\n"
