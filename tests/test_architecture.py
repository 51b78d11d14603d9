"""The house's rules, read from the code: imports only point down the floors of docs/architecture.md, and no private
name of the pipeline is imported outside it. Every import counts, also those inside functions."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "neuroclips"

# docs/architecture.md: a room may import leaves, its own modules and rooms on lower floors, nothing else
FLOORS = {
    0: {"_compat", "frames", "cortex", "io", "noise", "paths"},  # leaves
    1: {"simulation", "metrics"},
    2: {"data"},
    3: {"models", "flatmaps", "results"},
    4: {"zoo"},
    5: {"pipeline"},
    6: {"training"},
    7: {"evaluation"},
    8: {"ui", "cli"},
    9: {"__main__"},  # python -m neuroclips
}
FLOOR = {room: floor for floor, rooms in FLOORS.items() for room in rooms}


def room_of(module: str) -> str | None:
    """``neuroclips.zoo.full.loaders`` -> "zoo"; the package itself -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "neuroclips" else None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [a.name for a in node.names]
            if not node.module:  # `from . import x`: each name is a module
                out += [(node.lineno, f"{module}.{n}", []) for n in names]
            else:
                out.append((node.lineno, module, names))
    return out


def layering_violations(files) -> list[str]:
    bad = []
    for path in files:
        src = room_of(module_name(path))
        for line, module, _ in imports(path):
            dst = room_of(module)
            if module.split(".")[0] != "neuroclips" or dst is None or dst == src:
                continue
            if src is None:  # neuroclips/__init__.py may import only leaves
                ok = FLOOR.get(dst) == 0
            else:
                ok = FLOOR.get(dst, 99) < FLOOR[src] or FLOOR.get(dst) == 0
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{line} ({src}, floor {FLOOR.get(src)}) imports {module} "
                           f"({dst}, floor {FLOOR.get(dst)})")
    return bad


def package_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_room_has_a_floor():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert rooms <= set(FLOOR), f"rooms without a floor in docs/architecture.md: {sorted(rooms - set(FLOOR))}"


def test_imports_only_point_down():
    bad = layering_violations(package_files())
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


def test_the_layering_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a metrics module importing the pipeline inside a function is reported, a training
    module importing evaluation too, and a downward import is not."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)  # a fake checkout: tmp_path/neuroclips/...
    probes = {"metrics/probe.py": "def f():\n    from ..pipeline import NeuroClipsPipeline\n    return NeuroClipsPipeline\n",
              "training/probe.py": "from ..evaluation.batch import run_evaluation\n",
              "evaluation/probe.py": "from ..training import loop\nfrom ..frames import to_unit\n"}
    for name, text in probes.items():
        (tmp_path / "neuroclips" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "neuroclips" / name).write_text(text)
    bad = layering_violations(sorted((tmp_path / "neuroclips").rglob("*.py")))
    assert len(bad) == 2, bad
    assert "metrics/probe.py:2" in bad[0] and "imports neuroclips.pipeline" in bad[0]
    assert "training/probe.py:1" in bad[1] and "imports neuroclips.evaluation.batch" in bad[1]


@pytest.mark.parametrize("where", ["neuroclips", "tests", "app.py"])
def test_no_private_pipeline_name_is_imported_outside_the_pipeline(where):
    target = ROOT / where
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    bad = []
    for path in files:
        if PACKAGE / "pipeline" in path.parents:
            continue
        for line, module, names in imports(path):
            private = [n for n in names if n.startswith("_")]
            if module.startswith("neuroclips.pipeline") and (private or any(p.startswith("_") for p in module.split("."))):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {private or module}")
    assert not bad, "\n".join(bad)
