"""The guidance flags of ``reconstruct``, built from the public settings vocabulary
(:class:`~neuroclips.pipeline.settings.GuidanceSettings`): one flag per field whose metadata names one, with the
field's help, type, choices and range. A new α mode (:func:`~neuroclips.pipeline.register_alpha_mode`) or a new
settings field with a ``flag`` appears here without a change to the CLI.

Every flag defaults to ``argparse.SUPPRESS``: only the flags a user gives reach the pipeline
(:func:`guidance_from_args`), so the zoo's defaults (its registry entry's ``defaults``) hold for the others.
"""

from __future__ import annotations

import argparse
import dataclasses

TITLE = "guidance (the paper's ablations)"
DEST_PREFIX = "guidance_"  # namespace attributes are DEST_PREFIX + field name: no clash with a command's own flags
# the help of the opposite flag of a tri-state switch (``bool | None``), where the field's own help says too little
OPPOSITE_HELP = {"use_caption": "keep γ even with --no-keyframe"}


def guidance_fields() -> list[dataclasses.Field]:
    """The :class:`GuidanceSettings` fields that have a command-line flag, in the class's order."""
    from ..pipeline.settings import GuidanceSettings

    return [f for f in GuidanceSettings.fields_info() if f.metadata.get("flag")]


def _text(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 2**32 and (value + 1).bit_count() == 1:
        return f"2^{(value + 1).bit_length() - 1} - 1"
    return str(getattr(value, "label", value))


def _zoo_defaults(name: str) -> str:
    """The registered zoos' own defaults of a setting, e.g. "mini: 25" ("" when none sets one)."""
    from ..zoo import get_zoo, zoo_names

    return ", ".join(f"{z}: {_text(get_zoo(z).defaults[name])}" for z in zoo_names() if name in get_zoo(z).defaults)


def _help(f: dataclasses.Field, what: str | None = None) -> str:
    meta = f.metadata
    text = what or meta["help"]
    if meta["choices"] is not None:
        text += " (" + "; ".join(f"{k}: {_text(v)}" for k, v in meta["choices"].items()) + ")"
    elif meta["low"] is not None or meta["high"] is not None:
        text += f", in {'(' if meta.get('low_open') else '['}{_text(meta['low'])}, {_text(meta['high'])}]"
    zoos = _zoo_defaults(f.name)
    text += f". Default: {_text(f.default)}; the zoo may change it{f' ({zoos})' if zoos else ''}"
    return text.replace("%", "%%")  # argparse %-formats help strings


def _number_type(f: dataclasses.Field):
    if f.type.startswith("int"):
        return int
    if f.type.startswith("float"):
        return float
    return str


def add_guidance_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add the argument group :data:`TITLE`: one flag per :class:`GuidanceSettings` field with a ``flag``.

    Switches (``bool``): a ``--no-x`` flag stores False (a ``--x`` flag True); a tri-state switch (``bool | None``)
    gets the flag and its opposite as a mutually exclusive pair. Enumerated settings take their ``choices``' keys
    (read when the parser is built, so registered α modes are offered); numbers are ``int`` or ``float`` by the
    field's type."""
    group = parser.add_argument_group(TITLE, "each flag given overrides that setting; the others keep the zoo's "
                                             "defaults (the reference's, shown, where the zoo sets none)")
    for f in guidance_fields():
        meta, flag, dest = f.metadata, f.metadata["flag"], DEST_PREFIX + f.name
        common = {"dest": dest, "default": argparse.SUPPRESS}
        if f.type.startswith("bool"):
            value = not flag.startswith("--no-")
            help_ = _help(f, f"sets {f.name} to {value} ({meta['help']})")
            if "None" in f.type:  # neither flag: None, the field's own rule
                opposite = "--no-" + flag[2:] if value else "--" + flag[5:]
                pair = group.add_mutually_exclusive_group()
                pair.add_argument(flag, action="store_const", const=value, help=help_, **common)
                pair.add_argument(opposite, action="store_const", const=not value,
                                  help=OPPOSITE_HELP.get(f.name, f"sets {f.name} to {not value}"), **common)
            else:
                group.add_argument(flag, action="store_const", const=value, help=help_, **common)
        elif meta["choices"] is not None:
            group.add_argument(flag, choices=list(meta["choices"]), help=_help(f), **common)
        else:
            group.add_argument(flag, type=_number_type(f), metavar=flag[2:].upper().replace("-", "_"), help=_help(f),
                               **common)
    return group


def guidance_from_args(args: argparse.Namespace) -> dict:
    """``{field name: value}`` of the guidance flags given on the command line (none given: ``{}``), checked
    against :class:`GuidanceSettings` (``ValueError`` naming a bad value, before any model loads)."""
    from ..pipeline.settings import GuidanceSettings

    values = {f.name: getattr(args, DEST_PREFIX + f.name) for f in guidance_fields()
              if hasattr(args, DEST_PREFIX + f.name)}
    GuidanceSettings().replace(**values)
    return values


__all__ = ["DEST_PREFIX", "TITLE", "add_guidance_arguments", "guidance_fields", "guidance_from_args"]
