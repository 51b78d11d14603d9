"""NeuroClips Studio: `python app.py` serves the embedded default (mini zoo, simulated subjects) on 127.0.0.1:7860.

GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override the address, as on Hugging Face Spaces. NEUROCLIPS_ZOO=full
selects the real checkpoints (a GPU host, after `python -m neuroclips weights download --zoo full`) and the cc2017
data (NEUROCLIPS_CC2017_ROOT); NEUROCLIPS_STEPS=N runs fewer sampler steps
(a slow CPU host; the About tab says so).
"""

import os
import threading

from neuroclips.ui.app import build_demo
from neuroclips.ui.studio import Studio, defaults_from_env

studio = Studio(defaults=defaults_from_env())
demo = build_demo(studio)

if __name__ == "__main__":
    # the zoo loads before serving, not inside the first request (the full zoo takes minutes; on ZeroGPU that time
    # would count against the GPU call); a zoo that is not ready is reported by the requests
    studio.preload()
    # default clips are reconstructed in the background so that the first visitors browse them at once
    threading.Thread(target=studio.precompute_defaults, daemon=True, name="precompute").start()
    demo.queue(default_concurrency_limit=1, max_size=16).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        allowed_paths=[str(studio.store.root)],  # the results store, and nothing else beyond gradio's own
    )
