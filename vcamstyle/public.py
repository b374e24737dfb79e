"""How a package declares its public face without importing its heavy modules up front.

Each package's ``__init__`` lists its public names and the module that defines each one; the name is
imported on first use (PEP 562 module ``__getattr__``). ``vcamstyle status`` therefore never imports
torch or OpenCV, yet every other package imports only ``from vcamstyle.<package> import <name>``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package``; ``exports`` maps a public name to its module.

    The module is given relative to the package (``"service"`` for ``vcamstyle.daemon.service``); a
    name that equals its module's name is the module itself.
    """

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{module_name}")
        return module if module_name.rsplit(".", 1)[-1] == name else getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return sorted(exports), __getattr__, __dir__
