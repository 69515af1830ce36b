"""Reading checkpoints with errors that name the file, checking that a
checkpoint fits a model before its numbers are reported, and checking that
pre-trained weights named in a config set every tensor they are for."""
import os
import pickle
import zipfile
from typing import Callable, Dict, List

import torch
from mmengine.model import is_model_wrapper



def optional_buffers(model: torch.nn.Module) -> List[str]:
    """State-dict names that may legitimately be absent from a checkpoint:
    the ``prior`` of every :class:`PriorSmoothedCrossEntropyLoss` of the
    model (``loss_cls``, and a head's verb, noun or past-action losses),
    rebuilt from the config when its sources are there; a model trained
    with plain cross-entropy has none."""
    from ..models.losses import PriorSmoothedCrossEntropyLoss
    return [f'{name}.prior' if name else 'prior'
            for name, module in model.named_modules()
            if isinstance(module, PriorSmoothedCrossEntropyLoss)]


def read_checkpoint(path: str) -> dict:
    """Load a checkpoint on the CPU (``weights_only``), or fail naming it.

    Args:
        path (str): Checkpoint file.

    Returns:
        dict: The checkpoint (``state_dict``, ``meta``, ...).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is empty, truncated, not a PyTorch checkpoint,
            holds objects other than plain data, or is not a dict.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f'checkpoint {path} is empty (0 bytes): a run was '
                         'probably killed while writing it')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refused the content; never suggest loading it anyway
        raise ValueError(
            f'checkpoint {path} ({size} bytes) was not loaded: it is not a '
            'PyTorch checkpoint of plain weights (corrupted, or crafted to '
            f'hold other objects: {_unpickler_reason(e)})') from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError,
            ValueError) as e:
        raise ValueError(
            f'checkpoint {path} ({size} bytes) cannot be read: it is '
            f'truncated or not a PyTorch checkpoint ({type(e).__name__}: '
            f'{str(e).splitlines()[0] if str(e) else "no detail"})') from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {path} holds a '
                         f'{type(checkpoint).__name__}, not a dict')
    return checkpoint


def _unpickler_reason(error: Exception) -> str:
    """The line of torch's weights-only error that says what was refused
    (its advice to set ``weights_only=False`` is deliberately left out)."""
    lines = [line.strip() for line in str(error).splitlines()]
    reasons = [
        line for line in lines
        if line and not line.startswith(('Weights only load failed',
                                          'Please file an issue',
                                          'Check the documentation'))
    ]
    return reasons[0] if reasons else 'refused by the weights-only loader'


def checkpoint_state_dict(checkpoint: dict, path: str) -> Dict[str,
                                                               torch.Tensor]:
    """The weights of a checkpoint (``state_dict`` or a bare state dict),
    without the ``module.`` prefix of wrapped models."""
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict) or not all(
            torch.is_tensor(v) for v in state.values()):
        raise ValueError(f'checkpoint {path} has no state_dict of tensors '
                         f'(keys: {sorted(checkpoint)[:10]})')
    return {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in state.items()
    }


def _listing(names: List[str], limit: int = 8) -> str:
    shown = ', '.join(names[:limit])
    return f'{len(names)} ({shown}{", ..." if len(names) > limit else ""})'


def check_checkpoint_fits(model: torch.nn.Module, path: str) -> None:
    """Fail unless the checkpoint at ``path`` fills every parameter and
    buffer of ``model`` with tensors of the right shape, and holds nothing
    the model does not have.

    The losses' priors (:func:`optional_buffers`) may be absent: each is
    built from the config or filled from the checkpoint by the loss itself,
    which checks its size.

    Args:
        model (torch.nn.Module): The model the numbers will come from
            (wrappers such as DDP are unwrapped).
        path (str): Checkpoint file.

    Raises:
        ValueError: naming the checkpoint and listing the missing and
            unexpected names and the shape mismatches.
    """
    if is_model_wrapper(model):
        model = model.module
    state = checkpoint_state_dict(read_checkpoint(path), path)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    optional = optional_buffers(model)
    missing = sorted(set(expected) - set(state) - set(optional))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f'{k}: checkpoint {tuple(state[k].shape)}, model '
        f'{tuple(expected[k])}' for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k])
    ]
    if missing or unexpected or wrong:
        lines = [f'checkpoint {path} does not fit the model '
                 f'({type(model).__name__} of the config):']
        if missing:
            lines.append(f'  missing from the checkpoint: {_listing(missing)}')
        if unexpected:
            lines.append(f'  not in the model: {_listing(unexpected)}')
        if wrong:
            lines.append(f'  shape mismatch: {_listing(wrong, 4)}')
        lines.append('  (a checkpoint of another model, dataset or stage?)')
        raise ValueError('\n'.join(lines))


def pretrained_checkpoints(init_cfg) -> List[str]:
    """The ``checkpoint`` of every ``Pretrained`` entry of an init_cfg."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return [
        str(cfg.get('checkpoint')) for cfg in cfgs
        if isinstance(cfg, dict) and cfg.get('type') in ('Pretrained',
                                                          'PretrainedInit')
    ]


def load_every_tensor(module: torch.nn.Module, load: Callable[[], object],
                      source: str) -> None:
    """Run ``load`` and check that it set every tensor of ``module``.

    mmengine's and mmaction's loaders skip what they cannot match (missing
    or differently shaped keys) with at most a warning. Here every
    floating-point parameter and buffer of ``module`` is first set to NaN;
    one still NaN after ``load`` was not set from ``source``: an error, as is
    any failure of ``load`` itself (missing file, no network).

    Args:
        module (torch.nn.Module): The module the weights are for.
        load (Callable): Loads ``source`` into ``module`` (or a module that
            contains it).
        source (str): The weights' file or URL, for the messages.

    Raises:
        RuntimeError: ``load`` failed, or left tensors of ``module`` unset;
            the message names ``source`` and those tensors.
    """
    name = type(module).__name__
    tensors = {
        key: t
        for key, t in module.state_dict(keep_vars=True).items()
        if t.is_floating_point()
    }
    with torch.no_grad():
        for t in tensors.values():
            t.fill_(float('nan'))
    try:
        load()
    except Exception as err:
        raise RuntimeError(
            f'cannot load the pretrained weights {source!r} into {name}: '
            f'{type(err).__name__}: {err}') from err
    unset = [key for key, t in tensors.items() if torch.isnan(t).any()]
    if unset:
        hint = ('' if len(unset) < len(tensors) else
                ": none of its keys matched: check the keys' prefix (an "
                "mmaction recognizer checkpoint's 'backbone.*' keys go in "
                "PerStepBackbone's init_cfg=dict(type='Pretrained', "
                'checkpoint=...))')
        raise RuntimeError(
            f'the pretrained weights {source!r} did not set {len(unset)} of '
            f'the {len(tensors)} tensors of {name} (missing from the file, '
            f'shaped differently, or NaN){hint}; first unset: {unset[:5]}')
