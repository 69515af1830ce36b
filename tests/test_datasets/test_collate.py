import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader

import lsant_mmaction  # noqa: F401
from lsant_mmaction.datasets import (PickledSamples, StackedTensors,
                                     stack_collate)
from mmaction.registry import MODELS
from .test_feature_dataset import DIMS, ROWS, build, write_tiny_dataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODALITIES = tuple(DIMS)


def anticipator():
    """The Anticipator with its default data preprocessor."""
    return MODELS.build(dict(
        type='Anticipator', modalities=MODALITIES,
        cls_head=dict(type='LSTMAnticipationHead', num_classes=5,
                      in_channels=sum(DIMS.values()), hidden_channels=8)))


def assert_same_model_inputs(a, b):
    """Bit for bit: same modalities, dtypes, shapes and values; same data
    samples (labels and meta)."""
    assert a['inputs'].keys() == b['inputs'].keys()
    for m in a['inputs']:
        x, y = a['inputs'][m], b['inputs'][m]
        assert x.dtype == y.dtype and x.shape == y.shape, m
        assert torch.equal(x, y), m
    assert len(a['data_samples']) == len(b['data_samples'])
    for s, t in zip(a['data_samples'], b['data_samples']):
        assert torch.equal(s.gt_label, t.gt_label)
        assert s.metainfo.keys() == t.metainfo.keys()
        assert s.segment_id == t.segment_id
        assert (s.frame_inds == t.frame_inds).all()


@pytest.fixture
def dataset(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    return build(root)


def test_collate_gives_the_same_model_inputs(dataset):
    """Same batch through pseudo_collate and stack_collate, then the
    Anticipator's data preprocessor: the same model inputs."""
    samples = [dataset[i] for i in range(len(dataset))]
    batch = stack_collate(samples)
    for m in MODALITIES:  # one (B, T, D) tensor per modality
        assert isinstance(batch['inputs'][m], StackedTensors)
        assert batch['inputs'][m].stacked.shape == (3, 14, DIMS[m])
    assert isinstance(batch['data_samples'], PickledSamples)
    model = anticipator()
    for training in (False, True):
        ours = model.data_preprocessor(stack_collate(samples), training)
        ref = model.data_preprocessor(pseudo_collate(samples), training)
        assert_same_model_inputs(ours, ref)
        assert ours['inputs']['rgb'].shape == (3, 14, DIMS['rgb'])
    # and so the same logits
    model.eval()
    with torch.no_grad():
        a = model.test_step(stack_collate(samples))
        b = model.test_step(pseudo_collate(samples))
    for s, t in zip(a, b):
        assert torch.equal(s.pred_score, t.pred_score)


def test_collate_through_worker_processes(dataset):
    """Across the worker queue (pickled): one block per modality, the same
    model inputs as pseudo_collate without workers."""
    model = anticipator()
    ref = model.data_preprocessor(
        next(iter(DataLoader(dataset, batch_size=3,
                             collate_fn=pseudo_collate))), False)
    batch = next(iter(DataLoader(dataset, batch_size=3, num_workers=1,
                                 collate_fn=stack_collate)))
    assert isinstance(batch['inputs']['rgb'], StackedTensors)
    rows = batch['inputs']['rgb']
    assert all(r.data_ptr() == rows.stacked[i].data_ptr()
               for i, r in enumerate(rows))  # views of one tensor
    assert_same_model_inputs(model.data_preprocessor(batch, False), ref)


def test_pickled_forms():
    stacked = torch.arange(24.).view(2, 3, 4)
    rows = StackedTensors.from_stacked(stacked)
    assert len(rows) == 2 and torch.equal(rows[1], stacked[1])
    back = pickle.loads(pickle.dumps(rows))
    assert isinstance(back, StackedTensors) and torch.equal(
        back.stacked, stacked)
    # a list rebuilt by cast_data (from rows) stacks them anew
    rebuilt = StackedTensors(r.clone() for r in rows)
    assert torch.equal(rebuilt.stacked, stacked)
    rebuilt[0] = torch.zeros(3, 4)
    assert torch.equal(rebuilt.stacked[0], torch.zeros(3, 4))
    samples = PickledSamples([dict(a=torch.tensor([1])), 'x'])
    back = pickle.loads(pickle.dumps(samples))
    assert isinstance(back, PickledSamples) and back[1] == 'x'
    assert torch.equal(back[0]['a'], torch.tensor([1]))


def test_pinned_as_one_tensor(monkeypatch):
    """The dataloader's pin_memory pins the stacked tensor once and keeps
    the rows its views (pinned row by row, the preprocessor would stack
    them anew)."""
    from torch.utils.data._utils.pin_memory import pin_memory
    pinned = []

    def fake_pin(tensor, *args):  # no accelerator here: a marked copy
        pinned.append(tensor.shape)
        return tensor.clone()

    monkeypatch.setattr(torch.Tensor, 'pin_memory', fake_pin)
    stacked = torch.arange(24.).view(2, 3, 4)
    batch = pin_memory(dict(inputs=dict(
        rgb=StackedTensors.from_stacked(stacked))))
    rows = batch['inputs']['rgb']
    assert isinstance(rows, StackedTensors) and pinned == [(2, 3, 4)]
    assert torch.equal(rows.stacked, stacked)
    assert all(r.data_ptr() == rows.stacked[i].data_ptr()
               for i, r in enumerate(rows))


def test_unequal_shapes_and_frames_inputs():
    """Tensors of different shapes stay a list (the preprocessor pads, as
    with pseudo_collate); frames with a normalising preprocessor give the
    same inputs too."""
    pre = MODELS.build(dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(imgs=dict(
            type='ActionDataPreprocessor', mean=[1., 2., 3.],
            std=[2., 2., 2.], format_shape='NCHW'))))
    torch.manual_seed(0)
    for shapes in ([(14, 3, 8, 8)] * 3, [(14, 3, 8, 8), (14, 3, 6, 8)]):
        samples = [dict(inputs=dict(imgs=torch.randint(0, 255, s).float()),
                        data_samples=None) for s in shapes]
        batch = stack_collate(samples)
        assert isinstance(batch['inputs']['imgs'], StackedTensors) == (
            len(set(shapes)) == 1)
        a = pre(batch)['inputs']['imgs']
        b = pre(pseudo_collate(samples))['inputs']['imgs']
        assert a.dtype == b.dtype and torch.equal(a, b)


def test_registered_and_set_in_the_feature_bases():
    assert FUNCTIONS.get('stack_collate') is stack_collate
    for name in ('demo', 'epic55', 'egtea', 'epic100', 'custom'):
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', '_base_', 'datasets',
                     f'{name}_features.py'))
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            assert cfg[loader].collate_fn == dict(type='stack_collate'), (
                name, loader)


def test_rejects_what_it_cannot_collate():
    with pytest.raises(ValueError, match='empty'):
        stack_collate([])
    with pytest.raises(TypeError, match='PackActionInputs'):
        stack_collate([torch.zeros(2)])
