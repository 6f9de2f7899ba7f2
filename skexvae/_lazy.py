"""Package attributes imported on first use (PEP 562).

``import skexvae`` and ``skexvae --help`` then cost milliseconds, not the seconds of
importing torch and scikit-learn; the first use of ``skexvae.ExemplarVAE`` pays them.
"""

import importlib
import sys


def lazy_exports(package, exports, submodules=()):
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        ``{public name: module defining it}``, modules relative to ``package``.
    submodules : tuple of str
        Subpackages that ``package.<name>`` reaches without an import statement.
    """

    def __getattr__(name):
        if name in exports:
            value = getattr(importlib.import_module(exports[name], package), name)
        elif name in submodules:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__():
        return sorted({*vars(sys.modules[package]), *exports, *submodules})

    return __getattr__, __dir__
