import io
import logging

import numpy as np
import pytest
import torch

import lsant_mmaction  # noqa: F401


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


def test_mmengine_noise_is_filtered():
    from mmengine.logging import MMLogger
    stream = io.StringIO()
    logger = MMLogger.get_instance('lsant-noise-test')
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.warning('"FileClient" will be deprecated in future. Please ...')
    logger.warning('a real warning')
    logger.removeHandler(handler)
    assert 'FileClient' not in stream.getvalue()
    assert 'a real warning' in stream.getvalue()
