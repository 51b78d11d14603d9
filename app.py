"""NeuroClips Studio: `python app.py` serves the embedded default (the simulated world) on 127.0.0.1:7860.

GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override the address, as on Hugging Face Spaces.
"""

import os

from neuroclips.ui.placeholder import build_demo, warm_up

demo = build_demo()

if __name__ == "__main__":
    warm_up()  # regenerate the first subject's test fMRI in the background if the cache is cold
    demo.queue(default_concurrency_limit=1, max_size=16).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
