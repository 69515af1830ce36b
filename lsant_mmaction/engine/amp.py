"""Mixed precision (``--amp``) on every device: what the tools share.

On CUDA (and the other accelerators mmengine's ``AmpOptimWrapper`` knows:
npu, mlu, musa) ``tools/train.py --amp`` trains with that wrapper (float16
autocast and a dynamic loss scaler, or ``optim_wrapper.dtype='bfloat16'``).
On a CPU it trains with :class:`CPUAmpOptimWrapper` (bfloat16 autocast, no
scaler). The weights, the loss's prior and every checkpoint stay float32,
and the loss is computed in float32 (:class:`PriorSmoothedCrossEntropyLoss`).

Validation during training stays float32, so the best checkpoint is chosen
on the scores that ``tools/test.py`` reports by default;
``--cfg-options val_cfg.fp16=True`` validates under autocast.
``tools/test.py --amp`` runs the test loop under mmengine's ``autocast``
(``test_cfg.fp16``: float16 on CUDA, bfloat16 on a CPU). Under autocast the
heads' classifiers still compute float32 logits
(:class:`~lsant_mmaction.models.heads.float32_classifier.Float32Classifier`)
and the scores are a float32 softmax: bfloat16 logits would tie (8 bits of
mantissa: from a random 1024 -> 2,513 classifier with logits over +-15, the
5th and 6th largest are equal in about one row in seven), and a tie is a
miss, which would lower top-5 accuracy (tests/test_engine/test_amp.py).

bfloat16 is fast on a CPU only where it has bf16 matrix instructions (x86
AMX-BF16 or AVX512-BF16, Arm BF16); elsewhere oneDNN emulates them and a
run is slower than in float32, which :func:`warn_if_bf16_is_slow` says,
once per process. float32 stays the default of every tool and config.
"""
import logging
import os
from typing import Tuple

import torch
from mmengine.device import get_device
from mmengine.logging import print_log

#: Devices on which ``--amp`` means mmengine's ``AmpOptimWrapper``.
ACCELERATORS = ('cuda', 'npu', 'mlu', 'musa')

#: /proc/cpuinfo flags of bf16 matrix instructions (x86 ``flags``, Arm
#: ``Features``).
BF16_FLAGS = {'amx_bf16': 'AMX-BF16', 'avx512_bf16': 'AVX512-BF16',
              'bf16': 'Arm BF16'}

_warned = False  # warn_if_bf16_is_slow: once per process


def _cpuinfo_flags(path: str = '/proc/cpuinfo') -> set:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty when absent)."""
    if not os.path.isfile(path):
        return set()
    flags = set()
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(':')
            if key.strip() in ('flags', 'Features'):
                flags.update(value.split())
    return flags


def cpu_bf16_units() -> Tuple[str, ...]:
    """The bf16 matrix instructions of this CPU, by name (empty: none).

    Read from the CPU flags (``/proc/cpuinfo``; elsewhere, as on macOS or
    Windows, from torch's own CPU detection of AMX and AVX512-BF16), not
    measured: the answer is the same on every run.
    """
    flags = _cpuinfo_flags()
    if flags:
        return tuple(name for flag, name in BF16_FLAGS.items()
                     if flag in flags)
    found = []
    if getattr(torch.cpu, '_is_amx_tile_supported', lambda: False)():
        found.append('AMX-BF16')
    if getattr(torch.cpu, '_is_avx512_bf16_supported', lambda: False)():
        found.append('AVX512-BF16')
    return tuple(found)


def warn_if_bf16_is_slow() -> bool:
    """Log, once per process, that bfloat16 will be slower than float32
    when this CPU has no bf16 matrix instructions.

    Returns:
        bool: Whether it warned (now).
    """
    global _warned
    if _warned or cpu_bf16_units():
        return False
    _warned = True
    print_log(
        '--amp (bfloat16 autocast on the CPU): this CPU has no bf16 matrix '
        'instructions (none of AMX-BF16, AVX512-BF16 or Arm BF16 among its '
        'flags), so bfloat16 is emulated and this run will most likely be '
        'slower than in float32; drop --amp (float32 is the default)',
        logger='current',
        level=logging.WARNING)
    return True


def amp_device() -> str:
    """The device ``--amp`` runs on: one of :data:`ACCELERATORS` or
    ``'cpu'``.

    Raises:
        ValueError: another device (e.g. Apple's ``mps``), for which no
            mixed-precision wrapper is set up.
    """
    device = get_device()
    if device != 'cpu' and device not in ACCELERATORS:
        raise ValueError(
            f'--amp is supported on the CPU and on {", ".join(ACCELERATORS)}'
            f'; this run would use {device!r}. Run without --amp.')
    return device


def use_amp_for_training(cfg) -> None:
    """``--amp`` of ``tools/train.py``: the config's optimizer wrapper
    becomes the device's mixed-precision wrapper (validation stays float32:
    see the module docstring).

    On an accelerator: ``AmpOptimWrapper`` (``loss_scale='dynamic'`` unless
    the config sets one, ``dtype`` as the config says: float16 by
    default). On a CPU: ``CPUAmpOptimWrapper`` with ``dtype='bfloat16'``
    (a ``loss_scale`` of the config, for CUDA, is dropped: bfloat16 needs
    none). Other settings of the wrapper (optimizer, clipping,
    accumulation) are kept. ``--cfg-options`` given after may still change
    any of it.

    Args:
        cfg (mmengine.Config): The training config, changed in place.
    """
    wrapper = cfg.optim_wrapper
    if amp_device() == 'cpu':
        wrapper.type = 'CPUAmpOptimWrapper'
        wrapper.dtype = 'bfloat16'
        wrapper.pop('loss_scale', None)
    else:
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')


def use_amp_for_testing(cfg) -> None:
    """``--amp`` of ``tools/test.py``: the test loop runs under mmengine's
    ``autocast`` (float16 on an accelerator, bfloat16 on a CPU); the heads'
    logits and scores stay float32 (module docstring).

    Args:
        cfg (mmengine.Config): The test config, changed in place.
    """
    amp_device()
    test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    test_cfg['fp16'] = True
    cfg.test_cfg = test_cfg


def autocast_dtype(device_type: str) -> torch.dtype:
    """The dtype ``--amp`` autocasts to on ``device_type``: bfloat16 on a
    CPU, float16 elsewhere (mmengine's default)."""
    return torch.bfloat16 if device_type == 'cpu' else torch.float16
