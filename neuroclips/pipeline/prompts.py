"""Text of γ guidance, as the reference code and the paper define it (spec §5.2)."""

QUALITY_SUFFIX = ", 8k uhd, dslr, soft lighting, high quality, film grain, Fujifilm XT3"
NEGATIVE_PROMPT = (
    "semi-realistic, cgi, 3d, render, sketch, cartoon, drawing, anime, text, close up, cropped, out of frame, "
    "worst quality, low quality, jpeg artifacts, ugly, duplicate, morbid, mutilated, extra fingers, mutated hands, "
    "poorly drawn hands, poorly drawn face, mutation, deformed, blurry, dehydrated, bad anatomy, bad proportions, "
    "extra limbs, cloned face, disfigured, gross proportions, malformed limbs, missing arms, missing legs, extra arms, "
    "extra legs, fused fingers, too many fingers, long neck"
)
GENERIC_PROMPT = "a smooth video"  # the paper's prompt when the caption is ablated


def video_prompt(caption: str | None) -> str:
    """The reference's prompt: the caption plus the quality suffix, or the generic prompt without a caption."""
    return (caption + QUALITY_SUFFIX) if caption else GENERIC_PROMPT
