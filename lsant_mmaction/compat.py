"""Environment fixes, applied once when :mod:`lsant_mmaction` is imported.

Each fix is a no-op where the environment does not need it.

1. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn``
   (open-mmlab/mmaction2#2714), so ``import mmaction.models`` fails. A stub
   module is placed in ``sys.modules`` before anything imports it.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``; mmengine
   checkpoints hold ``HistoryBuffer`` and numpy objects. They are registered
   as safe globals.
3. ``--launcher pytorch`` without CUDA: :func:`setup_distributed` starts a
   gloo process group and tells mmengine not to pass CUDA device ids to DDP.
4. Known noise (mmcv-lite's deformable-attention warning, FileClient and
   pkg_resources deprecations) is filtered: Python warnings by message, and
   mmengine's own log lines by a filter on every ``MMLogger``.
"""
import importlib.util
import logging
import os
import re
import sys
import types
import warnings

_WARNINGS_TO_IGNORE = (
    r'.*MultiScaleDeformableAttention.*',
    r'.*"FileClient" will be deprecated.*',
    r'.*pkg_resources is deprecated.*',
    r'.*Deprecated call to `pkg_resources.*',
)


# mmengine logs these through MMLogger on every run (CheckpointHook builds a
# FileClient internally); the user can do nothing about them.
_LOG_NOISE = re.compile(r'"FileClient" will be deprecated|'
                        r'"HardDiskBackend" is the alias of "LocalBackend"')


class _NoiseFilter(logging.Filter):

    def filter(self, record: logging.LogRecord) -> bool:
        return not _LOG_NOISE.search(str(record.msg))


def filter_noise() -> None:
    """Silence the warnings every run prints and nobody can act on."""
    for pattern in _WARNINGS_TO_IGNORE:
        warnings.filterwarnings('ignore', message=pattern)
    from mmengine.logging import MMLogger
    if getattr(MMLogger, '_lsant_noise_filter', False):
        return
    init = MMLogger.__init__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.addFilter(_NoiseFilter())

    MMLogger.__init__ = __init__
    MMLogger._lsant_noise_filter = True
    for logger in MMLogger._instance_dict.values():
        logger.addFilter(_NoiseFilter())


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
    # numpy 1.x and 2.x keep the pickling helpers in different modules.
    for module_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr in ('_reconstruct', 'scalar'):
            if hasattr(module, attr):
                safe.append(getattr(module, attr))
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


def setup_distributed(cfg, launcher: str) -> None:
    """Prepare a config for ``--launcher`` runs on machines without CUDA.

    With CUDA this only makes sure the backend is nccl (mmengine's default).
    Without CUDA it initialises a gloo process group before the runner is
    built (mmengine would call ``torch.cuda.set_device``) and sets the DDP
    wrapper's ``device_ids`` to ``None``.

    Args:
        cfg (mmengine.Config): The config to adjust in place.
        launcher (str): The ``--launcher`` value.
    """
    if launcher == 'none':
        return
    import torch
    import torch.distributed as dist
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if torch.cuda.is_available():
        dist_cfg.setdefault('backend', 'nccl')
        return
    dist_cfg['backend'] = 'gloo'
    if launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} without CUDA is not supported; '
            'use --launcher pytorch (tools/dist_train.sh).')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def apply() -> None:
    """Apply every fix (idempotent)."""
    filter_noise()
    stub_missing_drn()
    allow_mmengine_checkpoints()
