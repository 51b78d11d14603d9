"""α guidance: how the blurry video's latents start the video sampler (spec §5.3), as a registry.

Each reading is one :class:`AlphaMode`; :func:`register_alpha_mode` makes a new one known to the video pipeline,
:class:`~neuroclips.pipeline.settings.GuidanceSettings`, the CLI's ``--alpha-mode`` and the app's α dropdown, which
all read :data:`ALPHA_MODES`. Adding a mode is one registration here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AlphaMode:
    """One reading of α guidance: how the blurry video's latents start the sampler.

    ``start(pipe, blurry_latents, noise, strength)`` returns the start latents for ``pipe.scheduler.timesteps``;
    ``steps(num_inference_steps, strength)`` says how many of the schedule's last steps run (None: all);
    ``uses_strength``: whether ``alpha_strength`` changes anything (results cached under other strengths are reused
    when it does not)."""

    name: str
    label: str
    description: str
    start: Callable[..., torch.Tensor]
    steps: Callable[[int, float], int] | None = None
    uses_strength: bool = True


ALPHA_MODES: dict[str, AlphaMode] = {}


def register_alpha_mode(mode: AlphaMode) -> AlphaMode:
    """Make an α mode known to the pipeline, :class:`~neuroclips.pipeline.settings.GuidanceSettings`, the CLI's
    ``--alpha-mode`` and the app's α dropdown (all read this registry)."""
    ALPHA_MODES[mode.name] = mode
    return mode


def _noised_to_first_step(pipe, blurry_latents, noise, strength):
    return pipe.scheduler.add_noise(blurry_latents, noise, pipe.scheduler.timesteps[:1])


def _paper_eq5(pipe, blurry_latents, noise, strength):
    # the blurry latent is taken to sit at step ϑT and diffused forward to T, the schedule's first timestep
    t0 = pipe.scheduler.timesteps[:1]
    alphas = pipe.scheduler.alphas_cumprod
    theta_t = min(int(round(strength * pipe.scheduler.config.num_train_timesteps)), len(alphas) - 1)
    ratio = (alphas[int(t0)] / alphas[theta_t]).clamp(max=1.0)
    return ratio.sqrt().to(noise.dtype) * blurry_latents + (1 - ratio).sqrt().to(noise.dtype) * noise


register_alpha_mode(AlphaMode("code_parity", "code parity (reference)",
                              "noised to the first timestep, all steps run (the reference code)", _noised_to_first_step,
                              uses_strength=False))
register_alpha_mode(AlphaMode("paper_eq5", "paper Eq. 5", "Eq. 5 with ϑ = alpha_strength, all steps run", _paper_eq5))
register_alpha_mode(AlphaMode("sdedit", "SDEdit", "start part-way: run the last round(alpha_strength·steps) steps",
                              _noised_to_first_step, lambda n, strength: max(1, min(n, int(round(n * strength))))))
