"""Pre-trained weight files with known values, written at test time.

Official RU-LSTM checkpoints as its `main.py` writes them under numpy 1
or numpy 2 (`save_with_numpy_names`).

No network: each file holds deterministic values for a backbone built
exactly as a config builds it, in the layout its source uses (torchvision's
ResNet names; an mmaction recognizer checkpoint with ``backbone.*`` keys).
"""
import pickle
import re
import types
import urllib.error
from typing import Dict

import numpy as np
import torch


def known_values(module: torch.nn.Module, seed: int = 0
                 ) -> Dict[str, torch.Tensor]:
    """``module``'s state dict with deterministic values (BN var > 0)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, t in module.state_dict().items():
        if not t.is_floating_point():
            state[key] = t.clone()
        elif key.endswith('running_var'):
            state[key] = torch.rand(t.shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(t.shape, generator=gen) * 0.05
    return state


def torchvision_name(key: str) -> str:
    """mmaction ResNet key -> torchvision key (``conv1.bn.x`` -> ``bn1.x``,
    ``downsample.conv`` -> ``downsample.0``)."""
    key = key.replace('downsample.conv.', 'downsample.0.')
    key = key.replace('downsample.bn.', 'downsample.1.')
    key = re.sub(r'conv(\d)\.bn\.', r'bn\1.', key)
    return re.sub(r'conv(\d)\.conv\.', r'conv\1.', key)


def write_torchvision_resnet(resnet: torch.nn.Module, path) -> Dict:
    """A torchvision-layout file for ``resnet`` (plus torchvision's unused
    ``fc``); returns the values by mmaction key."""
    values = known_values(resnet)
    state = {torchvision_name(k): v for k, v in values.items()
             if not k.endswith('num_batches_tracked')}
    state['fc.weight'] = torch.ones(10, 8)
    state['fc.bias'] = torch.zeros(10)
    torch.save(state, str(path))
    return values


def write_recognizer_checkpoint(backbone: torch.nn.Module, path) -> Dict:
    """An mmaction recognizer checkpoint (``backbone.*`` and ``cls_head.*``
    under ``state_dict``) for ``backbone``; returns the backbone's values."""
    values = known_values(backbone, seed=1)
    state = {f'backbone.{k}': v for k, v in values.items()}
    state['cls_head.fc2.weight'] = torch.ones(400, 8)
    torch.save(dict(meta=dict(), state_dict=state), str(path))
    return values


def assert_holds(module: torch.nn.Module, values: Dict) -> None:
    """Every floating-point tensor of ``module`` equals ``values``."""
    state = module.state_dict()
    assert set(state) == set(values)
    for key, t in state.items():
        if t.is_floating_point():
            assert torch.equal(t, values[key]), key


def no_network(monkeypatch, tmp_path) -> None:
    """Any download fails at once, as on a machine without network (and
    with an empty torch hub cache)."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError('[Errno -3] Temporary failure in name '
                                    'resolution (test: no network)')

    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(torch.hub, 'urlopen', refuse)


class _NumpyNamesPickler(pickle._Pickler):
    """Writes numpy's pickling helpers under a chosen module name, as numpy 1
    (``numpy.core.multiarray``) or numpy 2 (``numpy._core.multiarray``)
    writes them, whichever numpy is installed."""

    module_name = 'numpy._core.multiarray'

    def save_global(self, obj, name=None):
        helpers = {id(getattr(np.core.multiarray, attr)): attr
                   for attr in ('scalar', '_reconstruct')}
        if id(obj) in helpers:
            self.write(pickle.GLOBAL + self.module_name.encode() + b'\n' +
                       helpers[id(obj)].encode() + b'\n')
            self.memoize(obj)
            return
        super().save_global(obj, name)


def save_with_numpy_names(obj, path, module_name):
    """``torch.save`` whose pickle names numpy's helpers ``module_name``."""
    pickler = type('Pickler', (_NumpyNamesPickler, ),
                   dict(module_name=module_name))
    module = types.ModuleType('numpy_names_pickle')
    module.Pickler = pickler
    torch.save(obj, path, pickle_module=module)
    return path
