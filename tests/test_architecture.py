"""The package layout as a contract: layers, package faces, module size, lazy faces, model registration.

These read the source (``ast``), so a new module is checked the moment it exists; each failure names the
file and the import that breaks the rule.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import vcamstyle

PACKAGE_DIR = Path(vcamstyle.__file__).resolve().parent

#: Each top-level part of ``vcamstyle`` and its layer: an import may only point to a lower layer (or stay
#: inside its own package). ``devices`` and ``pipeline`` are siblings and must not import each other.
LAYERS: dict[str, int] = {
    "errors": 0,
    "paths": 1, "frames": 1, "compute": 1, "public": 1,
    "config": 2,
    "models": 3,
    "devices": 4, "pipeline": 4,
    "control": 5,
    "daemon": 6,
    "commands": 7,
    "bench": 8,
    "cli_support": 9,
    "cli_setup": 10,
    "cli": 11, "__init__": 11,
    "__main__": 12,
}
#: Packages whose ``__init__`` is their public face (the longest matching prefix wins).
FACES = ("config", "control", "daemon", "devices", "pipeline", "models", "models.weights", "bench", "commands")
MAX_MODULE_LINES = 450


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        found.append((".".join(parts), path))
    return found


def _part(dotted: str) -> str:
    """``daemon.service`` -> ``daemon``; ``frames`` -> ``frames``."""
    return dotted.split(".", 1)[0]


def _face(dotted: str) -> str | None:
    matches = [face for face in FACES if dotted == face or dotted.startswith(face + ".")]
    return max(matches, key=len) if matches else None


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, module relative to vcamstyle, imported names)`` of every ``from vcamstyle... import``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "vcamstyle" or node.module.startswith("vcamstyle."):
                found.append((node.lineno, node.module.removeprefix("vcamstyle").lstrip("."),
                              [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vcamstyle."):
                    found.append((node.lineno, alias.name.removeprefix("vcamstyle."), []))
    return found


def _public_names(face: str) -> set[str]:
    return set(importlib.import_module(f"vcamstyle.{face}").__all__)


def test_every_part_of_the_package_has_a_layer() -> None:
    unknown = sorted({_part(name) for name, _ in _modules()} - set(LAYERS))
    assert unknown == [], f"add these to LAYERS in {__file__} (and to vcamstyle/__init__.py's map): {unknown}"


def test_imports_point_down_the_layers() -> None:
    upward = []
    for name, path in _modules():
        source = _part(name)
        for line, module, names in _imports(path):
            targets = [f"{module}.{n}" if module else n for n in names] if not module else [module]
            for target in targets:
                part = _part(target)
                if part not in LAYERS or part == source:
                    continue
                if LAYERS[part] >= LAYERS[source]:
                    upward.append(f"{path.relative_to(PACKAGE_DIR)}:{line} imports vcamstyle.{target}")
    assert upward == []


def test_other_packages_import_only_a_package_s_public_names() -> None:
    reaching_in = []
    for name, path in _modules():
        own = _face(name)
        for line, module, names in _imports(path):
            face = _face(module) if module else None
            if face is None or own == face or (own and own.startswith(face + ".")) or (own and face.startswith(own + ".")):
                continue
            where = f"{path.relative_to(PACKAGE_DIR)}:{line}"
            if module != face:
                reaching_in.append(f"{where} imports from vcamstyle.{module}; use vcamstyle.{face}")
                continue
            private = sorted(set(names) - _public_names(face))
            if private:
                reaching_in.append(f"{where} imports {private}, not in vcamstyle.{face}.__all__")
    assert reaching_in == []


@pytest.mark.parametrize("face", FACES)
def test_each_package_says_what_it_does_and_its_public_names_resolve(face: str) -> None:
    package = importlib.import_module(f"vcamstyle.{face}")
    assert package.__doc__ and len(package.__doc__.strip().splitlines()) >= 2, f"vcamstyle.{face} needs a docstring"
    for public in package.__all__:
        assert getattr(package, public) is not None, f"vcamstyle.{face}.{public}"
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(package, "no_such_name")


def test_modules_stay_small() -> None:
    long = {str(path.relative_to(PACKAGE_DIR)): n for _, path in _modules()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these along a real seam (limit {MAX_MODULE_LINES} lines)"


def test_tests_mirror_the_packages() -> None:
    tests_dir = Path(__file__).resolve().parent
    for face in FACES:
        assert (tests_dir / face.replace(".", "/")).is_dir(), f"tests/{face.replace('.', '/')} is missing"


def _fresh_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=PACKAGE_DIR.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_control_commands_do_not_import_torch_or_opencv() -> None:
    """``vcamstyle status``/``stop`` reach the daemon package's face without loading the heavy modules."""
    loaded = _fresh_python(
        "import sys, vcamstyle.cli\n"
        "from vcamstyle.daemon import control\n"
        "from vcamstyle.config import load_config\n"
        "print(sorted(m for m in ('torch', 'cv2', 'pyvirtualcam') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_the_offline_default_path_does_not_import_torchvision() -> None:
    """torchvision (1.3 s of import, it pulls in torch._dynamo) is only for ``unet_resnet18``: the daemon's
    modules, the model registry and the offline default scene (selfie + Magenta) never load it; building
    ``unet_resnet18`` does (so the check can see it)."""
    loaded = _fresh_python(
        "import sys, tempfile, pathlib\n"
        "import vcamstyle.cli, vcamstyle.daemon.service\n"
        "from vcamstyle.config import ensure_config, load_config, override\n"
        "from vcamstyle.models import BuildOptions, create_segmenter, list_models\n"
        "from vcamstyle.pipeline import Engine\n"
        "path = pathlib.Path(tempfile.mkdtemp()) / 'config.yaml'\n"
        "ensure_config(path)\n"
        "scene = Engine().build(override(load_config(path), {'device': 'cpu'}), (180, 320), None)\n"
        "assert scene.segmenter is not None and scene.stylizer is not None\n"
        "assert 'unet_resnet18' in list_models('segmenter')\n"
        "print('torchvision' in sys.modules)\n"
        "create_segmenter('unet_resnet18', BuildOptions(random_weights=True))\n"
        "print('torchvision' in sys.modules)"
    )
    assert loaded.splitlines()[-2:] == ["False", "True"]


@pytest.mark.parametrize("first", ["vcamstyle.models.registry", "vcamstyle.models.magenta.stylizer", "vcamstyle.models.segmenters.unet",
                                   "vcamstyle.models.seed.avatarnet", "vcamstyle.models"])
def test_model_registration_has_no_import_cycle(first: str) -> None:
    """Whichever model module is imported first, every model registers exactly once."""
    listed = _fresh_python(
        f"import importlib; importlib.import_module({first!r})\n"
        "from vcamstyle.models import list_models\n"
        "print(list_models('stylizer'), list_models('segmenter'))"
    )
    assert listed == "['adain', 'avatarnet', 'magenta', 'sanet'] ['selfie', 'selfie_landscape', 'unet_resnet18']"
