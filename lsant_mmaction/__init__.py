"""lsant_mmaction: action anticipation with prior-smoothed cross-entropy.

Importing the package applies the environment fixes of :mod:`.compat` and
registers every component into mmaction's registries.
"""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'
