"""Environment fixes, applied once when :mod:`lsant_mmaction` is imported.

Each fix is a no-op where the environment does not need it.

1. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn``
   (open-mmlab/mmaction2#2714), so ``import mmaction.models`` fails. A stub
   module is placed in ``sys.modules`` before anything imports it.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``; mmengine
   checkpoints hold ``HistoryBuffer`` and numpy objects. They are registered
   as safe globals.
3. ``--launcher pytorch`` or ``slurm`` without CUDA: :func:`setup_distributed`
   starts a gloo process group and tells mmengine not to pass CUDA device
   ids to DDP.
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
    """Prepare a config for ``--launcher`` runs.

    With CUDA this only makes sure the backend is nccl (mmengine's default)
    and, for ``slurm``, that ``MASTER_ADDR`` is resolved (see
    :func:`slurm_master_addr`); mmengine initialises the process group.
    Without CUDA it initialises a gloo process group before the runner is
    built (mmengine would call ``torch.cuda.set_device``), from torchrun's
    variables (``pytorch``) or from slurm's (``slurm``: ``SLURM_PROCID``,
    ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_NODELIST``,
    ``MASTER_PORT`` defaulting to 29500), and sets the DDP wrapper's
    ``device_ids`` to ``None``.

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
    if launcher == 'slurm':
        _slurm_environment()
    if torch.cuda.is_available():
        dist_cfg.setdefault('backend', 'nccl')
        return
    dist_cfg['backend'] = 'gloo'
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(
            f'--launcher {launcher} without CUDA is not supported; '
            'use --launcher pytorch (tools/dist_train.sh) or slurm.')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def _slurm_environment() -> None:
    """Set torch's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
    and ``MASTER_PORT`` from the variables slurm gives each task."""
    missing = [
        name for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
        if name not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f'--launcher slurm needs the variables srun sets; missing: '
            f'{", ".join(missing)} (start it with tools/slurm_train.sh or '
            'srun)')
    rank = os.environ['SLURM_PROCID']
    os.environ['RANK'] = rank
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', rank)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['MASTER_ADDR'] = slurm_master_addr(os.environ)


def slurm_master_addr(environ) -> str:
    """The host of rank 0 in a slurm job.

    ``MASTER_ADDR`` when set; otherwise the first host of
    ``SLURM_NODELIST``, expanded with ``scontrol show hostnames`` (as
    mmengine does) or, without ``scontrol``, taken as is when it names a
    single host.

    Args:
        environ (Mapping[str, str]): The environment variables.

    Returns:
        str: The address.

    Raises:
        RuntimeError: A compressed node list (``node[01-04]``) with no
            ``scontrol`` to expand it, or no host at all.
    """
    if environ.get('MASTER_ADDR'):
        return environ['MASTER_ADDR']
    import shutil
    import subprocess
    nodelist = environ.get('SLURM_NODELIST', '')
    if shutil.which('scontrol'):
        proc = subprocess.run(['scontrol', 'show', 'hostnames', nodelist],
                              capture_output=True, text=True)
        hosts = proc.stdout.split()
        if proc.returncode == 0 and hosts:
            return hosts[0]
        raise RuntimeError(
            f'scontrol show hostnames {nodelist!r} failed '
            f'({proc.returncode}): {proc.stderr.strip()}; set MASTER_ADDR '
            'to the host of rank 0')
    if nodelist and not re.search(r'[\[\],\s]', nodelist):
        return nodelist
    raise RuntimeError(
        f'cannot find the master address of the slurm job: MASTER_ADDR is '
        f'not set and SLURM_NODELIST={nodelist!r} cannot be expanded '
        'without scontrol; set MASTER_ADDR to the host of rank 0 (e.g. '
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_NODELIST" | head -n1) '
        'in the batch script)')


def apply() -> None:
    """Apply every fix (idempotent)."""
    filter_noise()
    stub_missing_drn()
    allow_mmengine_checkpoints()
