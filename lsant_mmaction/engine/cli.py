"""What the command-line tools share: the ``--cfg-options`` parser, the
``--launcher`` set-up (gloo without CUDA, slurm's variables) and quieter
logs. Applied by the tools, never on import of the package."""
import logging
import os
import re

from mmengine.config import DictAction

# mmengine logs these through MMLogger on every run (CheckpointHook builds a
# FileClient before training); the user can do nothing about them.
_LOG_NOISE = re.compile(r'"FileClient" will be deprecated|'
                        r'"HardDiskBackend" is the alias of "LocalBackend"')


class KnownNoiseFilter(logging.Filter):
    """Drop mmengine's log lines that every run prints and nobody can act
    on (the FileClient deprecation)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _LOG_NOISE.search(str(record.msg))


def quiet_known_noise(logger: logging.Logger) -> None:
    """Add :class:`KnownNoiseFilter` to a runner's logger (once)."""
    if not any(isinstance(f, KnownNoiseFilter) for f in logger.filters):
        logger.addFilter(KnownNoiseFilter())


class CfgOptionsAction(DictAction):
    """mmengine's ``--cfg-options`` parser, keeping literal strings intact.

    mmengine's :class:`DictAction` deletes every space of a value and splits
    it at commas (``data_root=/data/my set/`` becomes ``/data/myset/``). Here
    a value in quotes inside the argument (``'key="/data/my set/"'``) is
    taken literally, and an unquoted value with spaces but no list syntax
    (no comma, no leading bracket) keeps its spaces. Everything else is
    parsed as mmengine does (``key=1,2``, ``key=[a,b]``, ``key=True``).
    """

    @staticmethod
    def _parse_value(val: str):
        stripped = val.strip()
        if (len(stripped) >= 2 and stripped[0] == stripped[-1]
                and stripped[0] in '\'"'):
            return stripped[1:-1]
        if (' ' in stripped and ',' not in stripped
                and not stripped.startswith(('[', '('))):
            return DictAction._parse_int_float_bool(stripped)
        return DictAction._parse_iterable(val)

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        for kv in values or []:
            if '=' not in kv:
                parser.error(f'{option_string} expects key=value, got {kv!r}')
            key, val = kv.split('=', maxsplit=1)
            options[key] = self._parse_value(val)
        setattr(namespace, self.dest, options)


#: Dataset arguments that describe one split and must not follow the config
#: to another split: the evaluation subsets (id lists of that split's
#: segments) and a selection of its segments by index.
SPLIT_OWNED_KEYS = ('subsets', 'indices')


def use_split(dataset_cfg, ann_file: str) -> None:
    """Point a dataset config at another annotation file (a test split,
    another split to dump), dropping what belonged to the configured split.

    Args:
        dataset_cfg (dict): The dataset config, changed in place.
        ann_file (str): The new split's CSV, relative to ``data_root``.
    """
    for key in SPLIT_OWNED_KEYS:
        dataset_cfg.pop(key, None)
    dataset_cfg.ann_file = ann_file
    dataset_cfg.test_mode = True


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


