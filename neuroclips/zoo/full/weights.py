"""``python -m neuroclips weights check|download``: what of the full zoo is on disk, and fetching the rest.

Files land in ``<root>/<artefact>/<path>`` (``root``: ``$NEUROCLIPS_FULL_ZOO``, else ``<cache>/zoo/full``). Hub files
come through ``huggingface_hub.hf_hub_download(local_dir=...)``, which resumes partial downloads; URL sources through
huggingface_hub's resumable ``http_get`` into a ``.incomplete`` file renamed when complete.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from .manifest import GROUPS, SUBJECTS, Artefact, WeightFile, load_manifest

DOWNLOAD_COMMAND = "python -m neuroclips weights download --zoo full"


def full_zoo_root(root: str | os.PathLike | None = None) -> Path:
    """Where the full zoo's files live: ``root``, ``$NEUROCLIPS_FULL_ZOO`` or ``<cache>/zoo/full``."""
    from ...paths import cache_dir

    if root is not None:
        return Path(root)
    return Path(os.environ.get("NEUROCLIPS_FULL_ZOO", cache_dir() / "zoo" / "full"))


@dataclass(frozen=True)
class FileStatus:
    artefact: Artefact
    file: WeightFile
    local: Path
    local_size: int | None
    state: str  # "ok", "missing", "wrong size", "not configured", "optional, absent"

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "optional, absent")


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return str(n)


@dataclass
class WeightsReport:
    """The state of every selected file; ``missing`` is what a download would fetch."""

    root: Path
    statuses: list[FileStatus]
    groups: tuple[str, ...]
    subjects: tuple[int, ...]

    @property
    def missing(self) -> list[FileStatus]:
        return [s for s in self.statuses if not s.ok]

    @property
    def complete(self) -> bool:
        return not self.missing

    def fetch_command(self) -> str:
        """The exact command that fetches what is missing."""
        cmd = [*shlex.split(DOWNLOAD_COMMAND)]
        if os.environ.get("NEUROCLIPS_FULL_ZOO") is None or Path(os.environ["NEUROCLIPS_FULL_ZOO"]) != self.root:
            cmd += ["--root", str(self.root)]
        if self.groups != ("inference",):
            cmd += ["--group", *self.groups]
        if self.subjects != SUBJECTS:
            cmd += ["--subject", *map(str, self.subjects)]
        names = sorted({s.artefact.name for s in self.missing})
        if names:
            cmd += ["--only", *names]
        unconfigured = [s.artefact for s in self.missing if s.state == "not configured"]
        prefix = "".join(f"{a.override_env}=<repo id> " for a in {a.name: a for a in unconfigured}.values())
        return prefix + shlex.join(cmd)

    def format(self) -> str:
        """A table of every file with expected and local size, then a summary with the fetch command."""
        rows = [("artefact", "file", "expected", "on disk", "state")]
        for s in self.statuses:
            expected = _human(s.file.size) + ("" if s.file.exact_size or s.file.size is None else " (approx.)")
            rows.append((s.artefact.name, s.file.path, expected, _human(s.local_size), s.state))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        need = sum(s.file.size or 0 for s in self.missing)
        lines.append("")
        lines.append(f"full zoo at {self.root} (groups: {', '.join(self.groups)}; subjects: "
                     f"{', '.join(map(str, self.subjects))})")
        if self.complete:
            lines.append(f"all {len(self.statuses)} files present")
        else:
            lines.append(f"{len(self.missing)} of {len(self.statuses)} files missing (about {_human(need)}); fetch them with:")
            lines.append(f"  {self.fetch_command()}")
            for a in {s.artefact.name: s.artefact for s in self.missing if s.state == "not configured"}.values():
                lines.append(f"  ({a.name} has no source yet: set {a.override_env} or pass "
                             f"--{a.override_env.removeprefix('NEUROCLIPS_').lower().replace('_', '-')})")
        return "\n".join(lines)


def select(artefacts: list[Artefact], groups: tuple[str, ...], only: tuple[str, ...] | None = None
           ) -> list[tuple[Artefact, WeightFile]]:
    bad = set(groups) - set(GROUPS)
    if bad:
        raise ValueError(f"unknown weight groups {sorted(bad)}; choose from {GROUPS}")
    names = {a.name for a in artefacts}
    if only and set(only) - names:
        raise ValueError(f"unknown artefacts {sorted(set(only) - names)}; the manifest has {sorted(names)}")
    return [(a, f) for a in artefacts if not only or a.name in only for f in a.files if set(f.groups) & set(groups)]


def local_path(root: Path, artefact: Artefact, file: WeightFile) -> Path:
    if artefact.source_type == "local":
        return Path(artefact.local_path)
    return root / artefact.name / file.path


def check_weights(root: str | os.PathLike | None = None, groups: tuple[str, ...] = ("inference",),
                  subjects: tuple[int, ...] = SUBJECTS, only: tuple[str, ...] | None = None,
                  artefacts: list[Artefact] | None = None, **sources) -> WeightsReport:
    """Which selected files are present with the expected size (offline: reads only the disk)."""
    root = full_zoo_root(root)
    artefacts = artefacts if artefacts is not None else load_manifest(subjects=subjects, **sources)
    statuses = []
    for a, f in select(artefacts, groups, only):
        path = local_path(root, a, f)
        size = path.stat().st_size if path.is_file() else None
        if not a.configured:
            state = "not configured"
        elif size is None:
            state = "optional, absent" if f.optional else "missing"
        elif f.exact_size and f.size is not None and size != f.size:
            state = "wrong size"
        else:
            state = "ok"
        statuses.append(FileStatus(a, f, path, size, state))
    return WeightsReport(root, statuses, tuple(groups), tuple(subjects))


def _download_url(url: str, dest: Path, expected_size: int | None) -> None:
    from huggingface_hub.file_download import http_get

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".incomplete")
    headers = {}
    token = os.environ.get("CIVITAI_TOKEN")
    if token and "civitai.com" in url:
        headers["Authorization"] = f"Bearer {token}"
    with open(part, "ab") as fh:
        http_get(url, fh, resume_size=fh.tell(), headers=headers, displayed_filename=dest.name)
    size = part.stat().st_size
    with open(part, "rb") as fh:
        head = fh.read(9)
    not_safetensors = dest.suffix == ".safetensors" and (len(head) < 9 or head[8:9] != b"{")  # u64 length, then JSON
    if not_safetensors or (expected_size is not None and size < expected_size // 2):
        part.unlink()  # never resume onto a login page
        raise OSError(f"{url} gave {size} bytes{' that are not a safetensors file' if not_safetensors else ''}, "
                      f"not the expected ~{_human(expected_size)} model; a login page? (civitai may need CIVITAI_TOKEN)")
    os.replace(part, dest)


def download_weights(root: str | os.PathLike | None = None, groups: tuple[str, ...] = ("inference",),
                     subjects: tuple[int, ...] = SUBJECTS, only: tuple[str, ...] | None = None, dry_run: bool = False,
                     artefacts: list[Artefact] | None = None, log=print, **sources) -> WeightsReport:
    """Fetch the selected files that are missing (only those), then report the state again."""
    from huggingface_hub import hf_hub_download

    from huggingface_hub.errors import EntryNotFoundError

    report = check_weights(root, groups, subjects, only, artefacts, **sources)
    todo = report.missing + [s for s in report.statuses if s.state == "optional, absent"]
    for s in todo:
        a, f = s.artefact, s.file
        if s.state == "not configured":
            log(f"skip {a.name}/{f.path}: no source; set {a.override_env}")
            continue
        log(f"{'would fetch' if dry_run else 'fetching'} {a.name}/{f.path} ({_human(f.size)}) from {a.where}")
        if dry_run:
            continue
        if a.source_type == "hf":
            try:
                hf_hub_download(a.repo_id, f.path, repo_type=a.repo_type, revision=a.revision,
                                local_dir=report.root / a.name, force_download=s.state == "wrong size")
            except EntryNotFoundError:
                if not f.optional:
                    raise
                log(f"  {f.path} is not in {a.where} (optional)")
        elif a.source_type == "url":
            _download_url(a.url, s.local, f.size)
        else:
            raise FileNotFoundError(f"{a.name}: the local file {a.local_path} does not exist")
    return check_weights(report.root, groups, subjects, only, artefacts, **sources)


class MissingWeightsError(FileNotFoundError):
    """Raised by the full zoo's loaders when files are missing; the message has the command that fetches them."""

    def __init__(self, report: WeightsReport):
        self.report = report
        names = ", ".join(sorted({f"{s.artefact.name}/{s.file.path}" for s in report.missing})[:6])
        more = len(report.missing) - 6
        super().__init__(f"the full zoo is missing {len(report.missing)} file(s) at {report.root} ({names}"
                         f"{f' and {more} more' if more > 0 else ''}); fetch them with: {report.fetch_command()}")


def require_weights(root: str | os.PathLike | None = None, subjects: tuple[int, ...] = SUBJECTS, **sources) -> WeightsReport:
    """The inference files of the full zoo, or :class:`MissingWeightsError`."""
    report = check_weights(root, ("inference",), subjects, **sources)
    if not report.complete:
        raise MissingWeightsError(report)
    return report
