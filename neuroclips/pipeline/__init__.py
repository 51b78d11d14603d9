"""The NeuroClips reconstruction pipeline (a later milestone); for now the prompts of γ guidance."""
