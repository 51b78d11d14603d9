"""A folder per reconstruction, named by a hash of everything that determines it (source, subject, clip,
settings, model versions). A result is written into a temporary folder and renamed into place, so a reader
sees a whole result or none, and two writers of the same key cannot mix their files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path


def result_key(source: str, subject: int, clip: int, settings: dict, versions: dict) -> str:
    """A stable 20-hex-digit key; the settings' order does not matter."""
    blob = json.dumps({"source": source, "subject": subject, "clip": clip, "settings": settings, "versions": versions},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultsStore:
    """``root/<key>/`` holds what :func:`neuroclips.pipeline.export.save_reconstruction` writes plus extras."""

    RECORD = "reconstruction.json"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a result key: {key!r}")
        return self.root / key

    def get(self, key: str) -> dict | None:
        """The stored record with ``files`` as absolute paths, or None."""
        folder = self.path(key)
        try:
            record = json.loads((folder / self.RECORD).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        record["files"] = {name: str(folder / f) for name, f in record.get("files", {}).items()}
        return record

    def put(self, key: str, write) -> dict:
        """``write(folder)`` fills a fresh temporary folder (and writes the record last); it then becomes
        ``root/key``. If another writer got there first, its result is kept and returned."""
        final = self.path(key)
        tmp = self.root / f".{key}.{uuid.uuid4().hex}.tmp"
        tmp.mkdir(parents=True)
        try:
            write(tmp)
            if not (tmp / self.RECORD).exists():
                raise RuntimeError(f"the writer did not write {self.RECORD}")
            try:
                os.rename(tmp, final)
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                if self.get(key) is not None:  # a concurrent writer got there first: keep theirs
                    shutil.rmtree(tmp, ignore_errors=True)
                else:  # an unreadable leftover: move it aside, put ours in place
                    os.rename(final, self.root / f".{key}.{uuid.uuid4().hex}.broken")
                    os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.get(key)

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
