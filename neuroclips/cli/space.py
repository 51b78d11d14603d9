"""``space``: placeholder module, filled in by the device/deployment issue (19)."""

from __future__ import annotations


def register(subparsers) -> None:
    return None
