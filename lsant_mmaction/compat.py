"""Environment fixes, applied once when :mod:`lsant_mmaction` is imported.

Each fix is a no-op where the environment does not need it.

1. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn``
   (open-mmlab/mmaction2#2714), so ``import mmaction.models`` fails. A stub
   module is placed in ``sys.modules`` before anything imports it.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``; mmengine
   checkpoints hold ``HistoryBuffer`` and numpy objects. They are registered
   as safe globals.
3. Known noise at import (mmcv-lite's deformable-attention warning,
   FileClient and pkg_resources deprecations) is filtered by message.

What only the tools need (``--launcher`` without CUDA, quieter logs) lives
in :mod:`lsant_mmaction.engine.cli`, applied by the tools, not on import.
"""
import importlib.util
import os
import sys
import types
import warnings

_WARNINGS_TO_IGNORE = (
    r'.*MultiScaleDeformableAttention.*',
    r'.*"FileClient" will be deprecated.*',
    r'.*pkg_resources is deprecated.*',
    r'.*Deprecated call to `pkg_resources.*',
)


def filter_noise() -> None:
    """Silence the Python warnings that every run prints when mmcv-lite and
    mmengine are imported, and nobody can act on (they fire on import, so
    this must happen at import)."""
    for pattern in _WARNINGS_TO_IGNORE:
        warnings.filterwarnings('ignore', message=pattern)


def stub_missing_drn() -> None:
    """Provide ``mmaction.models.localizers.drn`` when the wheel lacks it."""
    name = 'mmaction.models.localizers.drn'
    if name in sys.modules:
        return
    localizers = importlib.util.find_spec('mmaction.models')
    if localizers is None:  # mmaction is not installed at all
        return
    pkg_dir = os.path.join(
        os.path.dirname(localizers.origin), 'localizers', 'drn')
    if os.path.isdir(pkg_dir):
        return

    class DRN:  # noqa: D401 - placeholder with a clear error
        """Placeholder: DRN is missing from this mmaction2 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'mmaction2 was installed without models/localizers/drn '
                '(open-mmlab/mmaction2#2714); DRN is unavailable.')

    package = types.ModuleType(name)
    package.__path__ = []  # mark as a package
    module = types.ModuleType(name + '.drn')
    module.DRN = DRN
    package.drn = module
    sys.modules[name] = package
    sys.modules[name + '.drn'] = module


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints."""
    import torch
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return
    import numpy as np
    from mmengine.logging import HistoryBuffer

    safe = [HistoryBuffer, np.ndarray, np.dtype]
    # The pickling helpers of numpy arrays and scalars (``_reconstruct``,
    # ``scalar``) are named ``numpy.core.multiarray.*`` in pickles written
    # under numpy 1 and ``numpy._core.multiarray.*`` under numpy 2, whatever
    # numpy reads them: official RU-LSTM checkpoints store ``perf`` as a
    # numpy scalar. Both names are allowed, bound to the installed helper.
    multiarray = _numpy_multiarray()
    for attr in ('_reconstruct', 'scalar'):
        helper = getattr(multiarray, attr)
        for module_name in NUMPY_MULTIARRAY_NAMES:
            safe.append((helper, f'{module_name}.{attr}'))
    # dtype classes (numpy >= 1.25) used when pickling numpy scalars.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe.extend(
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType'))
    torch.serialization.add_safe_globals(safe)
    # HistoryBuffer pickles its statistics methods as
    # getattr(HistoryBuffer, 'min'); allow exactly that, not getattr at large.
    torch.serialization.add_safe_globals([(_history_buffer_getattr,
                                           'builtins.getattr')])


#: The module of numpy's pickling helpers under numpy 1 and numpy 2.
NUMPY_MULTIARRAY_NAMES = ('numpy.core.multiarray', 'numpy._core.multiarray')


def _numpy_multiarray():
    """The installed numpy's multiarray module, imported without the
    deprecation warning that numpy 2 gives for ``numpy.core``."""
    try:
        return importlib.import_module('numpy._core.multiarray')
    except ImportError:  # numpy < 1.26
        return importlib.import_module('numpy.core.multiarray')


_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to HistoryBuffer's statistics methods."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and (name in _HISTORY_STATISTICS
                                 or name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise RuntimeError(f'checkpoint asks for getattr({obj!r}, {name!r}); '
                       'only HistoryBuffer statistics are allowed when '
                       'loading with weights_only=True')


def apply() -> None:
    """Apply every fix (idempotent)."""
    filter_noise()
    stub_missing_drn()
    allow_mmengine_checkpoints()
