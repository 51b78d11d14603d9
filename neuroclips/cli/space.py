"""``space``: the app as a Hugging Face Space (docs/space.md).

``space export --zoo mini|full DIR`` writes a Space folder: a README whose front matter ZeroGPU accepts (Python 3.12,
torch 2.8-2.11), its requirements, an ``app.py`` entry, the package and, for the mini zoo, the demo data it serves;
for the full zoo, ``preload_from_hub`` lists the manifest's Hub model files. ``space prepare`` is the full Space's
start-up step (the exported ``app.py`` runs it): link the preloaded files into the zoo's folder and download the
rest into persistent storage.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..paths import REPO_ROOT

logger = logging.getLogger(__name__)

PYTHON_VERSION = "3.12"  # ZeroGPU runs Python 3.10 or 3.12 (library-notes §8)
# ZeroGPU supports torch 2.8-2.11; each torchvision release pins one torch (0.23 <-> 2.8 ... 0.26 <-> 2.11)
TORCH_PINS = {"torch": "torch>=2.8,<2.12", "torchvision": "torchvision>=0.23,<0.27"}
SPACE_ZOOS = ("mini", "full")
# what the mini zoo's Space serves: its weights, the simulated subjects' reconstructors and the committed part of
# the simulated world (the rest is regenerated from seeds into the cache at the first request)
MINI_DATA = ("demo_data/zoo/mini", "demo_data/reconstructors", "demo_data/simulated")
MAX_FILE_BYTES = 10 * 1024 * 1024  # the Hub refuses larger files in a git push without LFS/Xet
# binary files the Hub wants in LFS/Xet (`hf upload` decides by itself; a plain `git push` reads this)
LFS_PATTERNS = ("*.safetensors", "*.npy", "*.npz", "*.png", "*.jpg", "*.mp4", "*.bin", "*.pt", "*.ckpt", "*.pth",
                "*.nii", "*.gii", "*.gz", "*.model")
# for startup_duration_timeout: what the first start of the full Space does, at rates a Space's disk and network
# beat comfortably (assumed, not measured): download what is not preloaded, convert cc2017 when fetched, read the
# weights; rounded up to whole half hours
DOWNLOAD_BYTES_PER_S = 50e6
READ_BYTES_PER_S = 100e6
CC2017_BYTES = 20e9  # the .pt files (spec §1.2): read once to download, once to convert
STARTUP_BASE_S = 300
CC2017_REPO = "gongzx/cc2017_dataset"
TRUE = ("1", "true", "yes", "on")


def register(subparsers) -> None:
    p = subparsers.add_parser("space", help="export the app as a Hugging Face Space folder (docs/space.md), or run "
                              "the full Space's start-up step (link preloaded weights, fetch the rest)")
    actions = p.add_subparsers(dest="action", required=True, metavar="export|prepare")
    e = actions.add_parser("export", help="write a ready Space folder: README with front matter, requirements, "
                           "app.py, the package (and the mini zoo's demo data)")
    e.add_argument("dir", help="the folder to write (replaced with --force)")
    e.add_argument("--zoo", choices=SPACE_ZOOS, default="mini", help="the zoo the Space serves (default: mini)")
    e.add_argument("--force", action="store_true", help="replace DIR if it exists")
    e.add_argument("--reconstructors-repo", help="full: Hub repo[@revision] of the trained PR/SR (written into the "
                   "Space's app.py as NEUROCLIPS_RECONSTRUCTORS_REPO and preloaded)")
    e.add_argument("--subject", type=int, nargs="+", default=[1], help="full: subjects whose reconstructors the "
                   "Space preloads (default: 1)")
    e.add_argument("--title", default="NeuroClips Studio", help="the Space's title")
    r = actions.add_parser("prepare", help="the full Space's start-up step (its app.py runs it): link preloaded "
                           "weights into the zoo's folder; with --download also fetch the missing ones (~50 GB)")
    r.add_argument("--download", action="store_true", help="download what is not preloaded (the Space's app.py "
                   "does, unless NEUROCLIPS_SPACE_DOWNLOAD=0)")
    p.set_defaults(func=space)


def space(args: argparse.Namespace) -> int:
    return {"export": space_export, "prepare": space_prepare}[args.action](args)


def space_prepare(args: argparse.Namespace) -> int:
    report = prepare_full_space(download=args.download)
    print(report.format())
    return 0 if report.complete else 1


def space_export(args: argparse.Namespace) -> int:
    out = export_space(args.zoo, args.dir, force=args.force, reconstructors_repo=args.reconstructors_repo,
                       subjects=tuple(args.subject), title=args.title)
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    largest = max(files, key=lambda p: p.stat().st_size)
    print(f"wrote the {args.zoo} zoo's Space to {out}: {len(files)} files, {size / 2**20:.1f} MiB (largest "
          f"{largest.relative_to(out)}, {largest.stat().st_size / 2**20:.1f} MiB)")
    print(f"deploy: hf repos create <user>/<space> --type space --sdk gradio && hf upload <user>/<space> {out} . "
          "--type space  (docs/space.md)")
    return 0


# ---------------------------------------------------------------------------------------------------- export
def space_requirements(source: str | os.PathLike | None = None) -> str:
    """The repository's ``requirements.txt`` with torch and torchvision widened to the releases ZeroGPU runs (the
    repository pins torch 2.13 for the local CPU wheel of CI); every other pin is kept."""
    lines = Path(source or REPO_ROOT / "requirements.txt").read_text().splitlines()
    out = ["# Written by `python -m neuroclips space export`: the repository's pins, with torch and torchvision",
           "# widened to the releases ZeroGPU runs (torch 2.8-2.11; PyPI's Linux wheels are CUDA builds)."]
    seen = set()
    for line in lines:
        name = re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower()
        if name in TORCH_PINS:
            out.append(TORCH_PINS[name])
            seen.add(name)
        elif line.strip().startswith("#") and not seen:
            continue  # the comments above the torch pins are about the repository's CPU wheel
        else:
            out.append(line)
    missing = set(TORCH_PINS) - seen
    if missing:
        raise ValueError(f"{source or 'requirements.txt'} does not list {sorted(missing)}; the Space needs them")
    return "\n".join(out).rstrip() + "\n"


def _sdk_version(requirements: str) -> str:
    m = re.search(r"^gradio(?:\[[^\]]*\])?==([\w.]+)", requirements, re.M)
    if not m:
        raise ValueError("requirements.txt must pin gradio (gradio==X.Y.Z): the Space's sdk_version is that release")
    return m.group(1)


def preload_entries(artefacts, subjects=(1,)) -> list[str]:
    """``preload_from_hub`` lines (``repo file1,file2 [revision]``) for the manifest's Hub model artefacts: their
    required inference files, at the pinned revision when there is one. Dataset repos (MindEye2's unCLIP) are left
    out: the config reference documents preloading for models, so the Space downloads those once at its first start
    into persistent storage (``space prepare``)."""
    lines = []
    for a in artefacts:
        if a.source_type != "hf" or a.repo_type != "model" or a.repo_id is None:
            continue
        files = [f.path for f in a.files if "inference" in f.groups and not f.optional]
        if a.name == "reconstructors":
            files = [p for p in files if any(p.startswith(f"sub-{s:02d}/") for s in subjects)]
        if not files:
            continue
        pinned = re.fullmatch(r"[0-9a-f]{40}", a.revision or "")
        lines.append(f"{a.repo_id} {','.join(files)}" + (f" {a.revision}" if pinned else ""))
    return lines


def startup_timeout(artefacts, preloaded: list[str], fetch_cc2017: bool = True) -> str:
    """``startup_duration_timeout`` for the full Space's first start (see :data:`DOWNLOAD_BYTES_PER_S`)."""
    repos = {line.split()[0] for line in preloaded}
    inference = [(a, f) for a in artefacts for f in a.files if "inference" in f.groups and f.size]
    fetched = sum(f.size for a, f in inference if a.repo_id not in repos)
    read = sum(f.size for _, f in inference)
    seconds = (STARTUP_BASE_S + fetched / DOWNLOAD_BYTES_PER_S + read / READ_BYTES_PER_S
               + (2 * CC2017_BYTES / DOWNLOAD_BYTES_PER_S if fetch_cc2017 else 0))
    half_hours = max(1, math.ceil(seconds / 1800))
    return f"{half_hours // 2}h{'30m' if half_hours % 2 else ''}" if half_hours > 1 else "30m"


def _front_matter(values: dict) -> str:
    import yaml

    return "---\n" + yaml.safe_dump(values, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def space_readme(zoo: str, requirements: str, title: str = "NeuroClips Studio", reconstructors_repo: str | None = None,
                 subjects=(1,)) -> str:
    """The Space's README: front matter (the Space's configuration) and what it serves."""
    meta = {"title": title, "emoji": "🧠", "colorFrom": "indigo", "colorTo": "pink", "sdk": "gradio",
            "sdk_version": _sdk_version(requirements), "python_version": PYTHON_VERSION, "app_file": "app.py",
            "license": "apache-2.0",
            "short_description": "fMRI-to-video reconstruction (NeuroClips, NeurIPS 2024)",
            "tags": ["neuroscience", "fmri", "video-generation", "mcp-server"]}
    if zoo == "mini":
        # the mini zoo runs on 2 CPU cores (about 4 s a clip) and on ZeroGPU; small storage keeps the results
        meta.update(suggested_hardware="cpu-basic", suggested_storage="small")
        body = ("It serves the **mini** model zoo on the simulated cc2017 world that ships with it: three simulated "
                "subjects, 1,200 test clips each. It needs no downloads and runs on CPU or ZeroGPU.")
    else:
        from ..zoo.full import load_manifest

        artefacts = load_manifest(reconstructors_repo=reconstructors_repo)  # repo[@revision]
        preload = preload_entries(artefacts, subjects)
        meta.update(suggested_hardware="zero-a10g", suggested_storage="medium", preload_from_hub=preload,
                    startup_duration_timeout=startup_timeout(artefacts, preload),
                    models=sorted({a.repo_id for a in artefacts if a.source_type == "hf" and a.repo_type == "model"
                                   and a.repo_id}),
                    datasets=sorted({CC2017_REPO, *(a.repo_id for a in artefacts if a.repo_type == "dataset"
                                                    and a.repo_id)}))
        body = ("It serves the **full** model zoo (SD 1.5 + AnimateDiff v3 + SparseCtrl RGB, MindEye2's SDXL unCLIP, "
                "BLIP-2 and NeuroClips' reconstructors) on the real cc2017 data, on ZeroGPU. The Hub model files are "
                "preloaded at build time; MindEye2's unCLIP (a dataset repo) downloads once into persistent storage "
                "at the first start. Set the Space variable `NEUROCLIPS_FETCH_CC2017=1` to fetch the cc2017 data "
                "into persistent storage too, or `NEUROCLIPS_CC2017_ROOT` to a folder that has it "
                "(docs/space.md in the source repository, step by step).")
    return _front_matter(meta) + f"""
# {title}

fMRI-to-video reconstruction with **NeuroClips** (Gong et al., NeurIPS 2024). {body}

* **Shareable links**: `?subject=1&clip=42&use_blurry=0&alpha_mode=sdedit&alpha_strength=0.5&seed=0` opens that
  reconstruction; the *Copy link* button gives the link of the current settings.
* **API**: `gradio_client.Client("<this Space>").predict(1, 42, True, "code_parity", 0.3, True, 1.0, True,
  "keyframe", 0, api_name="/reconstruct")`; also `/long_video` and `/flatmaps`.
* **MCP**: the same three endpoints are MCP tools at `/gradio_api/mcp/` (schema: `/gradio_api/mcp/schema`).

Written by `python -m neuroclips space export --zoo {zoo}`; the source, tests and measured numbers are in the
NeuroClips Studio repository.
"""


def space_app(zoo: str, reconstructors_repo: str | None = None) -> str:
    """The Space's ``app.py``: the zoo and MCP as defaults of the environment (a Space variable overrides them),
    then the repository's app."""
    env = [f'os.environ.setdefault("NEUROCLIPS_ZOO", "{zoo}")', 'os.environ.setdefault("NEUROCLIPS_MCP", "1")']
    if reconstructors_repo:
        env.append(f'os.environ.setdefault("NEUROCLIPS_RECONSTRUCTORS_REPO", "{reconstructors_repo}")')
    prepare = ""
    if zoo == "full":
        prepare = ("\nfrom neuroclips.cli.space import prepare_full_space  # noqa: E402\n\n"
                   "# before the app is built: preloaded weights linked, the rest fetched into persistent storage\n"
                   "prepare_full_space()\n")
    return f'''"""NeuroClips Studio on a Hugging Face Space, {zoo} zoo (written by `python -m neuroclips space export`)."""

import os

{chr(10).join(env)}

import neuroclips  # noqa: E402,F401  (the torchvision shim, before anything imports torchvision)
{prepare}
from neuroclips.ui.app import build_app_from_env, serve  # noqa: E402

app = build_app_from_env()
demo = app.demo

if __name__ == "__main__":
    serve(app)
'''


def _copy_tree(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if "__pycache__" in rel.parts or path.suffix in (".pyc", ".incomplete") or not path.is_file():
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def export_space(zoo: str, out: str | os.PathLike, force: bool = False, reconstructors_repo: str | None = None,
                 subjects=(1,), title: str = "NeuroClips Studio", root: str | os.PathLike | None = None) -> Path:
    """Write the Space folder ``out`` (atomically: built beside it, then moved into place). ``root``: the source
    checkout (default: this one). Every file must stay under :data:`MAX_FILE_BYTES`."""
    if zoo not in SPACE_ZOOS:
        raise ValueError(f"a Space serves the {' or '.join(SPACE_ZOOS)} zoo, got {zoo!r}")
    root, out = Path(root or REPO_ROOT), Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not empty; pass --force to replace it")
    requirements = space_requirements(root / "requirements.txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would become the Space folder's mode
    try:
        (tmp / "requirements.txt").write_text(requirements)
        (tmp / "README.md").write_text(space_readme(zoo, requirements, title, reconstructors_repo, subjects))
        (tmp / "app.py").write_text(space_app(zoo, reconstructors_repo))
        (tmp / ".gitattributes").write_text("".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS))
        _copy_tree(root / "neuroclips", tmp / "neuroclips")
        if zoo == "mini":
            for folder in MINI_DATA:
                if not (root / folder).is_dir():
                    raise FileNotFoundError(f"{root / folder} is missing: the mini zoo's Space ships it (a checkout "
                                            "of the repository has it; the simulated world: build-demo-data)")
                _copy_tree(root / folder, tmp / folder)
        big = [(p, p.stat().st_size) for p in tmp.rglob("*") if p.is_file() and p.stat().st_size >= MAX_FILE_BYTES]
        if big:
            raise ValueError("files of 10 MiB or more, which the Hub refuses in a Space: "
                             + ", ".join(f"{p.relative_to(tmp)} ({n / 2**20:.1f} MiB)" for p, n in big))
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# ---------------------------------------------------------------------------------------------------- start-up
def link_preloaded(root: str | os.PathLike | None = None, artefacts=None) -> list[Path]:
    """Symlink the full zoo's files that are in the Hub cache (``preload_from_hub`` puts them there at build time)
    into the zoo's folder, where the loaders and ``weights check`` look. Offline: reads only the cache. Returns the
    links made."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from ..zoo.full import check_weights

    report = check_weights(root, ("inference",), artefacts=artefacts)
    linked = []
    for s in report.missing:
        a = s.artefact
        if a.source_type != "hf" or a.repo_id is None:
            continue
        try:
            cached = Path(hf_hub_download(a.repo_id, s.file.path, repo_type=a.repo_type, revision=a.revision or "main",
                                          local_files_only=True))
        except (LocalEntryNotFoundError, OSError, ValueError):
            continue  # not preloaded: `prepare_full_space` downloads it
        s.local.parent.mkdir(parents=True, exist_ok=True)
        tmp = s.local.with_name(s.local.name + ".link")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(cached.resolve())
        os.replace(tmp, s.local)  # atomic: a reader sees no file or the whole link
        linked.append(s.local)
    return linked


def fetch_cc2017(dest: str | os.PathLike) -> Path:
    """Download cc2017's ``.pt`` files from :data:`CC2017_REPO` into ``dest`` (resumable) and return the folder that
    holds them (the dataset repo may keep them in a subfolder)."""
    from huggingface_hub import snapshot_download

    from ..data import CC2017Layout, available_subjects

    layout = CC2017Layout()
    names = [layout.frames_file(s) for s in ("train", "test")] + [layout.caption_file(s) for s in ("train", "test")]
    names += [layout.fmri_file(n, s) for n in available_subjects("cc2017") for s in ("train", "test")]
    snapshot_download(CC2017_REPO, repo_type="dataset", local_dir=dest, allow_patterns=[f"*{n}" for n in names])
    found = sorted(Path(dest).rglob(layout.frames_file("test")))
    if not found:
        raise FileNotFoundError(f"{CC2017_REPO} gave no {layout.frames_file('test')} under {dest}")
    return found[0].parent


def prepare_full_space(root: str | os.PathLike | None = None, download: bool | None = None):
    """The full Space's start-up: link preloaded weights; download the missing ones (MindEye2's, from a dataset
    repo) when ``download`` (None: unless ``NEUROCLIPS_SPACE_DOWNLOAD=0``); with ``NEUROCLIPS_FETCH_CC2017=1`` and no
    ``NEUROCLIPS_CC2017_ROOT``, fetch cc2017 into persistent storage and point the variable at it. Failures are
    logged, not raised: the app then starts and says what is missing and the command that fetches it. Returns the
    weights report."""
    from ..paths import persistent_dir
    from ..zoo.full import check_weights, download_weights

    linked = link_preloaded(root)
    logger.warning("linked %d preloaded file(s) into the full zoo's folder", len(linked))
    if download is None:
        download = os.environ.get("NEUROCLIPS_SPACE_DOWNLOAD", "1").strip().lower() in TRUE
    if download:
        try:
            download_weights(root, ("inference",), log=logger.warning)
        except Exception as err:  # a failed download is reported by the app with the command that retries it
            logger.error("downloading the full zoo's missing weights failed: %s", err)
    if os.environ.get("NEUROCLIPS_FETCH_CC2017", "").strip().lower() in TRUE and not os.environ.get(
            "NEUROCLIPS_CC2017_ROOT"):
        base = persistent_dir()
        if base is None:
            logger.error("NEUROCLIPS_FETCH_CC2017=1 needs persistent storage (/data): 20 GB would download at every "
                         "restart; attach storage to the Space, or set NEUROCLIPS_CC2017_ROOT")
        else:
            try:
                os.environ["NEUROCLIPS_CC2017_ROOT"] = str(fetch_cc2017(base / "cc2017"))
            except Exception as err:
                logger.error("fetching %s failed: %s", CC2017_REPO, err)
    return check_weights(root, ("inference",))
