"""acorntui: a terminal console for nightly rsync backup triage."""

import os as _os

__version__ = "0.1.0"


def _run_from_checkout() -> None:
    """Let ``acorntui.db`` and ``acorntui.screens`` resolve when run from a checkout.

    The repository keeps the design card's top-level folders ``screens/`` and ``db/`` beside
    ``acorntui/``; the wheel installs them inside the package (setuptools ``package-dir``). When
    Python imports ``acorntui`` from the checkout itself (``python -m pytest`` or
    ``python -m acorntui`` in the repository root puts the root first on ``sys.path``), the
    package's folder has no ``db/`` or ``screens/``: add the checkout root to the package's
    search path so they are found there. An installed package (which holds ``db/``) and a
    folder that is not an acorntui checkout (no ``pyproject.toml`` naming it) are left alone,
    so a generic top-level ``db`` elsewhere on the path can never stand in for ours.
    """
    here = _os.path.dirname(_os.path.abspath(__file__))
    root = _os.path.dirname(here)
    if _os.path.isdir(_os.path.join(here, "db")):
        return
    try:
        with open(_os.path.join(root, "pyproject.toml"), encoding="utf-8") as fh:
            if 'name = "acorntui"' not in fh.read():
                return
    except OSError:
        return
    if all(_os.path.isfile(_os.path.join(root, sub, "__init__.py")) for sub in ("db", "screens")):
        __path__.append(root)


_run_from_checkout()
