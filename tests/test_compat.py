import io
import logging
import pickle
import zipfile

import numpy as np
import pytest
import torch

import lsant_mmaction  # noqa: F401
from lsant_mmaction.compat import NUMPY_MULTIARRAY_NAMES

from .weights_files import save_with_numpy_names


def test_mmaction_models_import():
    import mmaction.models  # fails on the 1.2.0 wheel without the stub
    from mmaction.models.localizers import DRN
    assert DRN is not None


def test_mmengine_checkpoint_objects_load_weights_only(tmp_path):
    from mmengine.logging import HistoryBuffer, MessageHub
    hub = MessageHub.get_instance('lsant-test')
    hub.update_scalar('train/loss', np.float64(1.5))
    hub.update_info('seed', np.int64(3))
    ckpt = dict(message_hub=hub.state_dict(), meta=dict(
        array=np.arange(3, dtype=np.float32)))
    path = str(tmp_path / 'c.pth')
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)


def test_weights_only_still_refuses_other_getattr(tmp_path):
    from mmengine.logging import HistoryBuffer

    class Evil:
        def __reduce__(self):  # reaches beyond the statistics methods
            return getattr, (HistoryBuffer, '__init__')
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': Evil()}, path)
    with pytest.raises(Exception, match='only HistoryBuffer statistics'):
        torch.load(path, weights_only=True)


def test_mmengine_noise_is_filtered_by_the_tools():
    from mmengine.logging import MMLogger

    from lsant_mmaction.engine.cli import quiet_known_noise

    # importing the package changes no mmengine class
    assert MMLogger.__init__.__module__ == 'mmengine.logging.logger'
    stream = io.StringIO()
    logger = MMLogger.get_instance('lsant-noise-test')
    quiet_known_noise(logger)  # what the tools do with the runner's logger
    quiet_known_noise(logger)
    assert len(logger.filters) == 1
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.warning('"FileClient" will be deprecated in future. Please ...')
    logger.warning('a real warning')
    logger.removeHandler(handler)
    assert 'FileClient' not in stream.getvalue()
    assert 'a real warning' in stream.getvalue()


@pytest.fixture
def slurm_env(monkeypatch):
    """A slurm task's variables (rank 1 of 2), nothing torch-specific."""
    for name in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE',
                 'LOCAL_RANK'):
        # setenv first: monkeypatch restores only the names it has seen,
        # and _slurm_environment sets these for the whole process
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    monkeypatch.setenv('SLURM_PROCID', '1')
    monkeypatch.setenv('SLURM_NTASKS', '2')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'localhost')
    monkeypatch.setenv('PATH', '/nonexistent')  # no scontrol here
    return monkeypatch


def test_slurm_variables_become_torch_variables(slurm_env):
    import os
    from lsant_mmaction.engine.cli import _slurm_environment
    slurm_env.setenv('MASTER_ADDR', '10.0.0.7')
    _slurm_environment()
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'],
            os.environ['LOCAL_RANK'], os.environ['MASTER_ADDR'],
            os.environ['MASTER_PORT']) == ('1', '2', '1', '10.0.0.7',
                                           '29500')


def test_slurm_master_addr_without_scontrol(slurm_env):
    from lsant_mmaction.engine.cli import slurm_master_addr
    assert slurm_master_addr({'MASTER_ADDR': 'n1', 'SLURM_NODELIST':
                              'gpu[01-04]'}) == 'n1'
    assert slurm_master_addr({'SLURM_NODELIST': 'gpu07'}) == 'gpu07'
    for nodelist in ('gpu[01-04]', 'gpu01,gpu02', ''):
        with pytest.raises(RuntimeError, match='set MASTER_ADDR'):
            slurm_master_addr({'SLURM_NODELIST': nodelist})


def test_slurm_master_addr_with_scontrol(slurm_env, tmp_path):
    from lsant_mmaction.engine.cli import slurm_master_addr
    scontrol = tmp_path / 'scontrol'
    scontrol.write_text('#!/bin/sh\n[ "$3" = "gpu[01-04]" ] || exit 1\n'
                        'echo gpu01\necho gpu02\n')
    scontrol.chmod(0o755)
    slurm_env.setenv('PATH', str(tmp_path))
    assert slurm_master_addr({'SLURM_NODELIST': 'gpu[01-04]'}) == 'gpu01'


def test_slurm_launcher_outside_slurm_is_a_clear_error(monkeypatch):
    from mmengine.config import Config
    from lsant_mmaction.engine.cli import setup_distributed
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    with pytest.raises(RuntimeError, match='SLURM_PROCID'):
        setup_distributed(Config(dict()), 'slurm')


@pytest.mark.parametrize('module_name', NUMPY_MULTIARRAY_NAMES)
def test_numpy_scalars_of_numpy_1_and_2_load_weights_only(tmp_path,
                                                          module_name):
    """Official RU-LSTM checkpoints hold ``perf`` as a numpy scalar; under
    numpy 2 its pickle names ``numpy._core.multiarray.scalar``."""
    path = save_with_numpy_names(
        dict(state_dict={'w': torch.ones(2)}, epoch=1, perf=np.float64(31.25),
             best_perf=np.float64(32.5), array=np.arange(3.0)),
        str(tmp_path / 'official.pth.tar'), module_name)
    with zipfile.ZipFile(path) as archive:
        data = next(archive.read(n) for n in archive.namelist()
                    if n.endswith('data.pkl'))
    assert module_name.encode() + b'\nscalar\n' in data  # the names it tests
    other = next(n for n in NUMPY_MULTIARRAY_NAMES if n != module_name)
    assert other.encode() + b'\n' not in data
    loaded = torch.load(path, weights_only=True)
    assert loaded['perf'] == 31.25 and isinstance(loaded['perf'], np.float64)
    assert loaded['best_perf'] == 32.5
    np.testing.assert_array_equal(loaded['array'], np.arange(3.0))


def test_numpy_names_stay_restricted(tmp_path):
    """Allowing numpy's helpers allows nothing else of numpy."""
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': np.load}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
