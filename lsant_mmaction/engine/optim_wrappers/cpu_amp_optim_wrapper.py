"""bfloat16 mixed-precision training on a CPU."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmaction.registry import OPTIM_WRAPPERS

from ..amp import warn_if_bf16_is_slow


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` with the forward pass (data preprocessor,
    model, loss) under ``torch.autocast('cpu', dtype=torch.bfloat16)``.

    mmengine's ``AmpOptimWrapper`` is for accelerators only (it asserts
    one); this is its CPU counterpart, built from a config as
    ``optim_wrapper=dict(type='CPUAmpOptimWrapper', dtype='bfloat16',
    optimizer=...)`` (``tools/train.py --amp`` on a CPU does so). bfloat16
    has float32's exponent range, so no loss scaler is needed: backward,
    clipping, accumulation and the step are ``OptimWrapper``'s, the
    parameters, gradients and optimizer state stay float32, and the state
    dict is ``OptimWrapper``'s, so ``--resume`` goes from a float32 run to
    an ``--amp`` one and back (a CUDA ``AmpOptimWrapper`` checkpoint's
    ``loss_scaler`` entry is dropped: bfloat16 has nothing to scale).

    Building it logs, once, when the CPU has no bf16 matrix instructions
    (:func:`lsant_mmaction.engine.amp.warn_if_bf16_is_slow`): the run would
    then be slower than in float32.

    Args:
        optimizer (torch.optim.Optimizer): The optimizer (built by
            mmengine from ``optim_wrapper.optimizer``).
        accumulative_counts (int): Gradient accumulation, as
            ``OptimWrapper``. Defaults to 1.
        clip_grad (dict, optional): Gradient clipping, as ``OptimWrapper``.
            Defaults to None.
        dtype (str | torch.dtype): The autocast dtype; only ``'bfloat16'``
            (CPU float16 autocast would need a loss scaler). Defaults to
            ``'bfloat16'``.

    Raises:
        ValueError: another ``dtype``, or parameters that are not on the
            CPU (CPU autocast would leave their computation in float32: use
            ``AmpOptimWrapper`` there).
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None,
                 dtype: Union[str, torch.dtype] = 'bfloat16') -> None:
        super().__init__(
            optimizer,
            accumulative_counts=accumulative_counts,
            clip_grad=clip_grad)
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(
                f"CPUAmpOptimWrapper autocasts to 'bfloat16' only, got "
                f'dtype={dtype!r} (float16 on a CPU would need a loss '
                'scaler; on CUDA use AmpOptimWrapper)')
        devices = sorted({
            p.device.type
            for group in optimizer.param_groups for p in group['params']
        } - {'cpu'})
        if devices:
            raise ValueError(
                f'CPUAmpOptimWrapper autocasts CPU computation, but the '
                f'model has parameters on {devices}: use AmpOptimWrapper '
                '(tools/train.py --amp picks it on CUDA)')
        self.cast_dtype = torch.bfloat16
        warn_if_bf16_is_slow()

    def load_state_dict(self, state_dict: dict) -> None:
        """``OptimWrapper.load_state_dict``, without the ``loss_scaler``
        state that an ``AmpOptimWrapper`` checkpoint holds."""
        state_dict = dict(state_dict)
        state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper``'s context (no gradient sync while accumulating)
        with bfloat16 autocast on the CPU."""
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield
