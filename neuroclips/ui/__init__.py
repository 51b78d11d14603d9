"""The Gradio app: :mod:`.studio` holds state and work (no Gradio), :mod:`.app` builds the Blocks."""
