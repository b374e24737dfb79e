"""Safe, strict checkpoint loading for upstream ``.pth`` files.

- Files are read with ``torch.load(..., map_location="cpu", weights_only=True)``: no pickled code runs.
  A checkpoint that pickles a custom class (Human-Segmentation-PyTorch's ``utils.logger.Logger``) is
  loaded by allow-listing an inert stub for exactly that class name, nothing else.
- State dicts load strictly: every key present, every shape equal. A mismatch raises ``WeightsError``
  naming the file and the first differing keys, or the known file it really is.
- Before unpickling, the content is sniffed: an HTML page, a truncated archive or a TorchScript archive
  saved under a checkpoint's name is reported as what it is ("an HTML page, not a checkpoint").
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.models.weights.sniff import DOWNLOAD_AGAIN, sniff_checkpoint

log = logging.getLogger(__name__)

_MAX_LISTED = 5


class InertStub:
    """Stands in for an allow-listed pickled class; keeps its state as a plain dict, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


def make_stub(module: str, qualname: str) -> type:
    """A fresh ``InertStub`` subclass that pickle will find as ``module.qualname``."""
    stub = type(qualname, (InertStub,), {"__module__": module, "__qualname__": qualname})
    return stub


def require_file(weights_dir: Path | None, filename: str, model: str) -> Path:
    """The path of ``filename`` in ``weights_dir``, or ``WeightsError`` saying how to fetch it."""
    if weights_dir is None:
        raise WeightsError(f"{model}: no weights directory configured", hint=f"run `vcamstyle weights fetch {model}`")
    path = Path(weights_dir) / filename
    if not path.is_file():
        raise WeightsError(
            f"{model}: weights file {path} is missing",
            hint=f"run `vcamstyle weights fetch {model}` or copy {filename} into {weights_dir}",
        )
    return path


def load_checkpoint(path: Path, allowed_classes: tuple[str, ...] = ()) -> Any:
    """Read a checkpoint without executing pickled code.

    ``allowed_classes`` lists fully qualified class names (e.g. ``"utils.logger.Logger"``) that may
    appear in the pickle; each is replaced by an inert stub. Anything else that is not a tensor or a
    plain container is refused with ``WeightsError``.
    """
    what = sniff_checkpoint(path)
    if what is not None:  # a web page, a truncated archive, TorchScript, ...: say so, load nothing
        raise WeightsError(f"{path}: {what}", hint=f"the file has the right name but not the checkpoint in it; {DOWNLOAD_AGAIN}")
    stubs = [make_stub(*name.rsplit(".", 1)) for name in allowed_classes]
    try:
        with torch.serialization.safe_globals(stubs):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError) as exc:
        if isinstance(exc, EOFError) or "truncated" in str(exc):
            raise WeightsError(f"{path}: the checkpoint is truncated (an incomplete download)",
                               hint=DOWNLOAD_AGAIN) from exc
        raise WeightsError(
            f"{path}: refused to load: the file pickles objects that are not plain tensors ({_first_line(exc)})",
            hint="use the official checkpoint; vcamstyle never runs code from weight files",
        ) from exc
    except (RuntimeError, OSError, ValueError) as exc:
        if any(word in str(exc) for word in ("EOF", "truncated", "central directory")):
            raise WeightsError(f"{path}: the checkpoint is truncated (an incomplete download)",
                               hint=DOWNLOAD_AGAIN) from exc
        raise WeightsError(
            f"{path}: cannot read checkpoint ({_first_line(exc)})",
            hint="the file is truncated or not a PyTorch checkpoint; run `vcamstyle weights verify`",
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def extract_state_dict(obj: Any, path: Path, key: str | None = None) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a checkpoint: ``obj[key]`` when ``key`` is given, else ``obj`` itself.

    A ``module.`` prefix (``DataParallel``) on every key is stripped.
    """
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            found = sorted(obj)[:_MAX_LISTED] if isinstance(obj, Mapping) else type(obj).__name__
            raise WeightsError(f"{path}: expected a checkpoint dict with {key!r}, found {found}",
                               hint="check that the file is the one the model expects")
        obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: expected a state_dict of tensors, found {type(obj).__name__}",
                           hint="check that the file is the one the model expects")
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def state_dict_mismatch(module: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between ``module``'s state_dict and ``state`` (empty when equal)."""
    return shape_mismatch({k: tuple(v.shape) for k, v in module.state_dict().items()}, state)


def shape_mismatch(expected: Mapping[str, tuple[int, ...]], state: Mapping[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between the expected ``{key: shape}`` and ``state`` (empty when equal)."""
    problems: list[str] = []
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    shaped = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if missing:
        problems.append(f"missing keys: {', '.join(missing[:_MAX_LISTED])}" + (" ..." if len(missing) > _MAX_LISTED else ""))
    if extra:
        problems.append(f"unexpected keys: {', '.join(extra[:_MAX_LISTED])}" + (" ..." if len(extra) > _MAX_LISTED else ""))
    for k in shaped[:_MAX_LISTED]:
        problems.append(f"{k}: expected shape {tuple(expected[k])}, file has {tuple(state[k].shape)}")
    return problems


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` into ``module`` strictly, or raise ``WeightsError`` naming the file and first differences."""
    problems = state_dict_mismatch(module, state)
    if problems:
        from vcamstyle.models.weights.checkpoint_layout import identify_state  # imports the networks: only on failure

        twin = identify_state(dict(state), exclude=Path(path).name)
        if twin is not None:
            raise WeightsError(f"{path}: holds the checkpoint {twin} (another network's file), not {Path(path).name}",
                               hint=f"put the right file under this name; {DOWNLOAD_AGAIN}")
        raise WeightsError(f"{path}: does not match the network: " + "; ".join(problems),
                           hint="the file is not the published checkpoint for this model; run `vcamstyle weights verify`")
    module.load_state_dict(state, strict=True)
    log.debug("loaded %d tensors from %s", len(state), path)
