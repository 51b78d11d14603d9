"""The full zoo's manifest (``manifest.json`` beside this file): every file the real pipeline reads, its source,
pinned revision, size and what needs it (spec §9.1).

Two sources are configurable because they are not fixed public files: the Realistic Vision base model (AnimateDiff's
Hub backup of the V6.0 B1 file by default; ``NEUROCLIPS_BASE_MODEL`` may name a URL such as civitai's, a
``<repo_id>:<filename>[@revision]`` on the Hub, or a local file),
and the NeuroClips reconstructors, which the authors never published (``NEUROCLIPS_RECONSTRUCTORS_REPO``: the
Hub repo of this project's own training output, laid out as ``sub-0N/{perception,semantics}``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ...data import available_subjects

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
GROUPS = ("inference", "training")
SOURCE_TYPES = ("hf", "url", "local")
SUBJECTS = tuple(available_subjects("cc2017"))  # the dataset's subjects (spec §1.1)


@dataclass(frozen=True)
class WeightFile:
    """One file of an artefact; ``path`` is relative to the artefact's folder (and to its repo)."""

    path: str
    size: int | None
    exact_size: bool
    groups: tuple[str, ...]
    role: str
    optional: bool = False  # fetched when the revision has it, never required


@dataclass(frozen=True)
class Artefact:
    """A set of files from one source at one revision, stored under ``<zoo root>/<name>/``."""

    name: str
    title: str
    source_type: str
    spec: str
    files: tuple[WeightFile, ...]
    repo_id: str | None = None
    repo_type: str = "model"
    revision: str | None = None
    url: str | None = None
    local_path: str | None = None
    override_env: str | None = None
    unpinned_reason: str | None = None
    notes: str = ""

    @property
    def configured(self) -> bool:
        return {"hf": self.repo_id is not None, "url": self.url is not None, "local": self.local_path is not None}[
            self.source_type]

    @property
    def where(self) -> str:
        if self.source_type == "hf":
            return f"hf://{self.repo_type + 's/' if self.repo_type != 'model' else ''}{self.repo_id}@{self.revision}"
        return self.url if self.source_type == "url" else f"local file {self.local_path}"


_HF_SOURCE = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+):(?P<file>[^@]+)(?:@(?P<rev>[\w.-]+))?$")


def validate(raw: dict) -> list[str]:
    """Problems with a manifest's JSON (empty when well-formed)."""
    errors = []
    if raw.get("format") != 1:
        errors.append(f"unknown manifest format {raw.get('format')!r}")
    names = set()
    for a in raw.get("artefacts", []):
        name = a.get("name")
        if not name or not re.fullmatch(r"[a-z0-9_]+", name):
            errors.append(f"artefact name {name!r} must be lower-case letters, digits or _")
        if name in names:
            errors.append(f"artefact {name!r} listed twice")
        names.add(name)
        src = a.get("source", {})
        kind = src.get("type")
        if kind not in SOURCE_TYPES:
            errors.append(f"{name}: source type {kind!r} not in {SOURCE_TYPES}")
        if kind == "hf":
            rev = src.get("revision")
            if src.get("repo_id") is None and not src.get("override_env"):
                errors.append(f"{name}: a Hub source needs repo_id or override_env")
            pinned = isinstance(rev, str) and re.fullmatch(r"[0-9a-f]{40}", rev)
            if src.get("repo_id") is not None and not pinned and not src.get("unpinned_reason"):
                errors.append(f"{name}: revision {rev!r} is not a pinned 40-hex commit (or say why in unpinned_reason)")
            if src.get("repo_type", "model") not in ("model", "dataset"):
                errors.append(f"{name}: repo_type must be model or dataset")
        if kind == "url" and not str(src.get("url", "")).startswith("https://"):
            errors.append(f"{name}: url source needs an https:// url")
        paths = set()
        for f in a.get("files", []):
            path = f.get("path", "")
            if not path or path.startswith("/") or ".." in Path(path).parts:
                errors.append(f"{name}: bad file path {path!r}")
            if path in paths:
                errors.append(f"{name}: file {path!r} listed twice")
            paths.add(path)
            if not set(f.get("groups", [])) <= set(GROUPS) or not f.get("groups"):
                errors.append(f"{name}/{path}: groups must be a non-empty subset of {GROUPS}")
            size = f.get("size")
            if size is not None and (not isinstance(size, int) or size <= 0):
                errors.append(f"{name}/{path}: size must be a positive integer or null")
            if f.get("exact_size") and size is None:
                errors.append(f"{name}/{path}: an exact size needs a size")
            if "{subject" in path and not a.get("per_subject"):
                errors.append(f"{name}/{path}: subject template in an artefact that is not per_subject")
        if not [f for f in a.get("files", []) if not f.get("optional")]:
            errors.append(f"{name}: no required files")
    return errors


def base_model_source(value: str, artefact: Artefact) -> Artefact:
    """The base-model artefact with its source replaced by ``value``: a URL, ``<repo_id>:<file>[@revision]`` or a
    local file."""
    value = value.strip()
    if value.startswith("https://") or value.startswith("http://"):
        # another source may hold another version: the size stays as an approximate floor against login pages
        f = replace(artefact.files[0], exact_size=False)
        return replace(artefact, source_type="url", url=value, files=(f,), unpinned_reason=None)
    m = _HF_SOURCE.match(value)
    if m and not Path(value).exists():
        f = replace(artefact.files[0], path=m["file"], size=None, exact_size=False)
        return replace(artefact, source_type="hf", repo_id=m["repo"], revision=m["rev"] or "main", url=None, files=(f,),
                       unpinned_reason=None if m["rev"] else "given without a revision")
    path = Path(value).expanduser()
    f = replace(artefact.files[0], path=path.name, size=None, exact_size=False)
    return replace(artefact, source_type="local", local_path=str(path), url=None, files=(f,))


def load_manifest(path: str | os.PathLike | None = None, *, subjects: tuple[int, ...] = SUBJECTS,
                  reconstructors_repo: str | None = None, base_model: str | None = None) -> list[Artefact]:
    """The manifest's artefacts, per-subject files expanded for ``subjects`` and the configurable sources resolved
    from the arguments or their environment variables."""
    raw = json.loads(Path(path or MANIFEST_PATH).read_text())
    errors = validate(raw)
    if errors:
        raise ValueError("malformed weights manifest:\n  " + "\n  ".join(errors))
    bad = [s for s in subjects if s not in SUBJECTS]
    if bad:
        raise ValueError(f"cc2017 has subjects {SUBJECTS}; got {bad}")
    overrides = {"NEUROCLIPS_RECONSTRUCTORS_REPO": reconstructors_repo, "NEUROCLIPS_BASE_MODEL": base_model}
    out = []
    for a in raw["artefacts"]:
        src = a["source"]
        files = []
        for f in a["files"]:
            paths = [f["path"].format(subject=s) for s in subjects] if a.get("per_subject") else [f["path"]]
            files += [WeightFile(p, f.get("size"), bool(f.get("exact_size")), tuple(f["groups"]), f.get("role", ""),
                                 bool(f.get("optional"))) for p in paths]
        art = Artefact(name=a["name"], title=a["title"], source_type=src["type"], spec=a.get("spec", ""),
                       files=tuple(files), repo_id=src.get("repo_id"), repo_type=src.get("repo_type", "model"),
                       revision=src.get("revision"), url=src.get("url"), override_env=src.get("override_env"),
                       unpinned_reason=src.get("unpinned_reason"), notes=a.get("notes", ""))
        env = art.override_env
        value = (overrides.get(env) or os.environ.get(env)) if env else None
        if value and art.name == "base_model":
            art = base_model_source(value, art)
        elif value:
            name, _, rev = value.partition("@")
            art = replace(art, repo_id=name, revision=rev or art.revision)
        out.append(art)
    return out
