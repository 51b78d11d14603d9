"""NeuroClips Studio: `python app.py` serves the embedded default (mini zoo, simulated subjects) on 127.0.0.1:7860.

GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override the address, as on Hugging Face Spaces. NEUROCLIPS_ZOO=full
selects the real checkpoints (a GPU host, after `python -m neuroclips weights download --zoo full`) and the cc2017
data (NEUROCLIPS_CC2017_ROOT); NEUROCLIPS_STEPS=N runs fewer sampler steps (a slow CPU host; the About tab says so);
NEUROCLIPS_MCP=1 (or GRADIO_MCP_SERVER=True) also serves the endpoints as MCP tools at /gradio_api/mcp/. A value the
app cannot serve gives a page that names it and its fix. `python -m neuroclips space export` writes this app as a
Hugging Face Space (docs/space.md).
"""

from neuroclips.ui.app import build_app_from_env, serve

app = build_app_from_env()
demo = app.demo  # the Blocks, for tools that import app.py and look for `demo`

if __name__ == "__main__":
    serve(app)
