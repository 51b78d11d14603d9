"""The Semantics Reconstructor's diffusion prior over CLIP image tokens (spec §3.2, §4.1).

MindEye2's ``PriorNetwork`` on dalle2-pytorch 1.15.6's transformer, rewritten with the same module names
(``net.causal_transformer.layers.{i}.{0,1}``, ``net.null_brain_embeds`` ...) so MindEye2 checkpoints load:
tokens = [condition (n) ; time embedding (1) ; noisy tokens + learned positional embedding (n)], a
non-causal transformer with multi-query cosine-similarity attention (scale 16), rotary embeddings on 32 dims,
a T5 relative position bias, SwiGLU feed-forwards; the last n tokens predict x₀. The noise schedule is
diffusers' ``squaredcos_cap_v2`` (dalle2's cosine schedule, 100 steps); sampling is dalle2's DDIM (η = 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from rotary_embedding_torch import RotaryEmbedding
from torch import nn

from ..noise import rand, randint, randn


class LayerNorm(nn.Module):
    """dalle2's gain-only LayerNorm (parameter ``g``); ``stable`` divides by the row max first."""

    def __init__(self, dim: int, eps: float = 1e-5, fp16_eps: float = 1e-3, stable: bool = False):
        super().__init__()
        self.eps, self.fp16_eps, self.stable = eps, fp16_eps, stable
        self.g = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        eps = self.eps if x.dtype == torch.float32 else self.fp16_eps
        if self.stable:
            x = x / x.amax(dim=-1, keepdim=True).detach()
        var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
        return (x - mean) * (var + eps).rsqrt() * self.g


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t):
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=t.device, dtype=t.dtype) * -(math.log(10000) / (half - 1)))
        emb = t[:, None] * freqs[None]
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class MLP(nn.Module):
    """dalle2's time-embedding MLP: two SiLU layers of width 2·dim_out, then a projection."""

    def __init__(self, dim_in: int, dim_out: int, expansion_factor: float = 2.0, depth: int = 2):
        super().__init__()
        hidden = int(expansion_factor * dim_out)
        layers = [nn.Sequential(nn.Linear(dim_in, hidden), nn.SiLU(), nn.Identity())]
        layers += [nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Identity()) for _ in range(depth - 1)]
        self.net = nn.Sequential(*layers, nn.Linear(hidden, dim_out))

    def forward(self, x):
        return self.net(x.to(self.net[-1].weight.dtype))  # dalle2 casts to fp32; the MLP may run in fp16/bf16


class RelPosBias(nn.Module):
    """T5-style bucketed relative position bias, one value per head."""

    def __init__(self, heads: int, num_buckets: int = 32, max_distance: int = 128):
        super().__init__()
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.relative_attention_bias = nn.Embedding(num_buckets, heads)

    def forward(self, i: int, j: int, device) -> torch.Tensor:
        rel = torch.arange(j, device=device)[None] - torch.arange(i, device=device)[:, None]
        n = torch.clamp(-rel, min=0)
        exact = self.num_buckets // 2
        large = exact + (torch.log(n.float().clamp(min=1) / exact) / math.log(self.max_distance / exact)
                         * (self.num_buckets - exact)).long()
        bucket = torch.where(n < exact, n, large.clamp(max=self.num_buckets - 1))
        return self.relative_attention_bias(bucket).permute(2, 0, 1)  # (heads, i, j)


class SwiGLU(nn.Module):
    def forward(self, x):
        x, gate = x.chunk(2, dim=-1)
        return x * F.silu(gate)


def feed_forward(dim: int, mult: float) -> nn.Sequential:
    inner = int(mult * dim)
    return nn.Sequential(LayerNorm(dim), nn.Linear(dim, inner * 2, bias=False), SwiGLU(), nn.Identity(), nn.Dropout(0.0),
                         nn.Linear(inner, dim, bias=False))


class Attention(nn.Module):
    """Multi-query attention: ``heads`` query heads, one shared key/value head with a learned null k/v prepended,
    cosine-similarity logits with a fixed scale, rotary embeddings and an additive relative position bias."""

    def __init__(self, dim: int, dim_head: int, heads: int, rotary_emb: RotaryEmbedding | None, scale: float = 16.0):
        super().__init__()
        self.heads, self.scale = heads, scale
        self.norm = LayerNorm(dim)
        self.null_kv = nn.Parameter(torch.randn(2, dim_head))
        self.to_q = nn.Linear(dim, dim_head * heads, bias=False)
        self.to_kv = nn.Linear(dim, dim_head * 2, bias=False)
        self.rotary_emb = rotary_emb
        self.to_out = nn.Sequential(nn.Linear(dim_head * heads, dim, bias=False), LayerNorm(dim))

    def forward(self, x, attn_bias=None):
        b, n, _ = x.shape
        x = self.norm(x)
        q = self.to_q(x).reshape(b, n, self.heads, -1).transpose(1, 2)
        k, v = self.to_kv(x).chunk(2, dim=-1)
        if self.rotary_emb is not None:
            q, k = self.rotary_emb.rotate_queries_or_keys(q), self.rotary_emb.rotate_queries_or_keys(k)
        nk, nv = (t.expand(b, 1, -1) for t in self.null_kv[:, None].unbind(0))
        k, v = torch.cat((nk, k), dim=1), torch.cat((nv, v), dim=1)
        q, k = F.normalize(q, dim=-1) * math.sqrt(self.scale), F.normalize(k, dim=-1) * math.sqrt(self.scale)
        sim = torch.einsum("bhid,bjd->bhij", q, k)
        if attn_bias is not None:
            sim = sim + attn_bias
        attn = sim.softmax(dim=-1, dtype=torch.float32).type(sim.dtype)
        out = torch.einsum("bhij,bjd->bhid", attn, v).transpose(1, 2).reshape(b, n, -1)
        return self.to_out(out)


class PriorTransformer(nn.Module):
    """dalle2's ``CausalTransformer`` as MindEye2 flags it (``causal=False``)."""

    def __init__(self, dim: int, depth: int, dim_head: int, heads: int, ff_mult: float = 4.0):
        super().__init__()
        self.init_norm = nn.Identity()
        self.rel_pos_bias = RelPosBias(heads)
        # dalle2 shares one RotaryEmbedding between layers; its fixed frequencies are saved under every layer, so
        # one copy per layer keeps the state dict identical while safetensors can store it (no shared tensors).
        self.layers = nn.ModuleList([
            nn.ModuleList([Attention(dim, dim_head, heads, RotaryEmbedding(dim=min(32, dim_head))), feed_forward(dim, ff_mult)])
            for _ in range(depth)])
        self.norm = LayerNorm(dim, stable=True)
        self.project_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        n = x.shape[1]
        bias = self.rel_pos_bias(n, n + 1, x.device)
        for attn, ff in self.layers:
            x = attn(x, attn_bias=bias) + x
            x = ff(x) + x
        return self.project_out(self.norm(x))


class PriorNetwork(nn.Module):
    def __init__(self, dim: int, num_tokens: int, depth: int, dim_head: int, heads: int, ff_mult: float = 4.0):
        super().__init__()
        self.num_tokens = num_tokens
        self.to_time_embeds = nn.Sequential(nn.Sequential(SinusoidalPosEmb(dim), MLP(dim, dim)), nn.Unflatten(1, (1, dim)))
        self.learned_query = nn.Parameter(torch.randn(num_tokens, dim) * dim ** -0.5)  # "pos_emb" mode
        self.causal_transformer = PriorTransformer(dim, depth, dim_head, heads, ff_mult)
        self.null_brain_embeds = nn.Parameter(torch.randn(num_tokens, dim))
        self.null_image_embed = nn.Parameter(torch.randn(num_tokens, dim))

    def forward(self, image_embed, timesteps, brain_embed, brain_cond_drop_prob: float = 0.0,
                image_cond_drop_prob: float = 0.0, generator: torch.Generator | None = None):
        b = len(image_embed)

        def keep(p):
            if p <= 0:
                return torch.ones(b, 1, 1, dtype=torch.bool, device=image_embed.device)
            if p >= 1:
                return torch.zeros(b, 1, 1, dtype=torch.bool, device=image_embed.device)
            return (rand((b,), generator, image_embed.device) >= p)[:, None, None]

        brain_embed = torch.where(keep(brain_cond_drop_prob), brain_embed, self.null_brain_embeds.to(brain_embed.dtype)[None])
        image_embed = torch.where(keep(image_cond_drop_prob), image_embed, self.null_image_embed.to(image_embed.dtype)[None])
        time_embed = self.to_time_embeds(timesteps.to(image_embed.dtype)).to(image_embed.dtype)
        tokens = torch.cat((brain_embed, time_embed, image_embed + self.learned_query[None]), dim=1)
        return self.causal_transformer(tokens)[:, -self.num_tokens:]


def dalle2_ddim_times(num_inference_steps: int, num_train_timesteps: int) -> list[int]:
    """dalle2's DDIM timesteps, descending and ending at -1 (x₀): 20 of 100 gives 94, 89, ..., 4, -1."""
    times = torch.linspace(-1.0, num_train_timesteps, num_inference_steps + 1)[:-1].int().tolist()
    return times[::-1]


class DiffusionPrior(nn.Module):
    """x₀-predicting diffusion over (n_tokens, dim) CLIP tokens conditioned on clip_voxels (spec §3.2).

    Training drops the brain condition and the noisy input to their null embeddings with probability
    ``cond_drop_prob`` each; the loss is MSE(x̂₀, x₀) at a uniform t. Sampling follows dalle2's DDIM exactly,
    including its use of ᾱ_{t-1} for the current step's coefficient (spec §4.1: 20 steps, η = 1, no CFG).
    """

    def __init__(self, dim: int, num_tokens: int, depth: int = 6, dim_head: int = 52, heads: int | None = None,
                 timesteps: int = 100, cond_drop_prob: float = 0.2, ff_mult: float = 4.0):
        super().__init__()
        from diffusers import DDPMScheduler

        self.net = PriorNetwork(dim, num_tokens, depth, dim_head, heads or dim // dim_head, ff_mult)
        self.cond_drop_prob = cond_drop_prob
        # dalle2's cosine schedule (s = 0.008, betas clipped at 0.999) is diffusers' squaredcos_cap_v2.
        self.scheduler = DDPMScheduler(num_train_timesteps=timesteps, beta_schedule="squaredcos_cap_v2",
                                       prediction_type="sample", clip_sample=False)

    @property
    def num_timesteps(self) -> int:
        return self.scheduler.config.num_train_timesteps

    def loss(self, image_embed: torch.Tensor, brain_embed: torch.Tensor, generator: torch.Generator | None = None):
        """(MSE of the x₀ prediction, the prediction) at random timesteps."""
        b, dev = len(image_embed), image_embed.device
        t = randint(0, self.num_timesteps, (b,), generator, dev)
        noise = randn(image_embed.shape, generator, dev, image_embed.dtype)
        noisy = self.scheduler.add_noise(image_embed, noise, t)
        pred = self.net(noisy, t, brain_embed, self.cond_drop_prob, self.cond_drop_prob, generator=generator)
        return F.mse_loss(pred, image_embed), pred

    @torch.no_grad()
    def sample(self, brain_embed: torch.Tensor, num_inference_steps: int = 20, eta: float = 1.0,
               generator: torch.Generator | None = None, cond_scale: float = 1.0) -> torch.Tensor:
        b, dev = len(brain_embed), brain_embed.device
        acp = self.scheduler.alphas_cumprod.to(dev, torch.float32)
        acp_prev = F.pad(acp[:-1], (1, 0), value=1.0)
        times = dalle2_ddim_times(num_inference_steps, self.num_timesteps)
        # the sampler's arithmetic in fp32, the network in its own dtype
        x = randn((b, self.net.num_tokens, brain_embed.shape[-1]), generator, dev)
        for time, time_next in zip(times[:-1], times[1:]):
            t = torch.full((b,), time, device=dev, dtype=torch.long)
            x0 = self.net(x.to(brain_embed.dtype), t, brain_embed).float()
            if cond_scale != 1.0:
                null = self.net(x.to(brain_embed.dtype), t, brain_embed, 1.0, 1.0).float()
                x0 = null + (x0 - null) * cond_scale
            # dalle2 derives the noise with ᾱ_t but mixes with ᾱ_{t-1} ("alphas_cumprod_prev"); kept for parity.
            eps = (x / acp[time].sqrt() - x0) / (1 / acp[time] - 1).sqrt()
            if time_next < 0:
                x = x0
                continue
            a, a_next = acp_prev[time], acp_prev[time_next]
            c1 = eta * ((1 - a / a_next) * (1 - a_next) / (1 - a)).sqrt()
            c2 = ((1 - a_next) - c1 ** 2).sqrt()
            noise = randn(x.shape, generator, dev) if time_next > 0 else 0.0
            x = x0 * a_next.sqrt() + c1 * noise + c2 * eps
        return x
