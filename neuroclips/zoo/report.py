"""The mini zoo's measured gates as Markdown (docs/zoo.md)."""

from __future__ import annotations


def zoo_report(result: dict, command: str) -> str:
    lines = ["# Mini model zoo: quality gates", "", f"Reproduce with `{command}`. Measured on held-out simulated "
             "test clips (spread evenly over the 5 test movies), CPU, 2 cores.", "",
             "| component | gate | measured | passed | training |", "|---|---|---|---|---|"]
    vae = result.get("vae")
    if vae:
        t = vae.get("training", {})
        train = (f"{t.get('steps')} steps x batch {t.get('config', {}).get('batch_size')}, "
                 f"{t.get('seconds_this_run')} s (last run), CPU" if t else "")
        lines.append(
            f"| VAE (`AutoencoderKL`, f=8, 4 latent channels, scaling_factor {t.get('scaling_factor', float('nan')):.4f}) "
            f"| PSNR ≥ {vae['gate_db']} dB | {vae['psnr_db_mean']} ± {vae['psnr_db_sd']} dB over {vae['n_frames']} frames "
            f"(seen categories {vae['psnr_db_seen_categories']}, test-only categories {vae['psnr_db_test_only_categories']}) "
            f"| {'yes' if vae['passed'] else 'no'} | {train} |")
    for name in ("CLIP", "keyframe generator", "captioner", "text-to-video"):
        lines.append(f"| {name} | see the issue | not trained yet | — | — |")
    return "\n".join(lines) + "\n"
