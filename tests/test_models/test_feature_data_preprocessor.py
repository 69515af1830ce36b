"""FeatureDataPreprocessor against the stock preprocessors it replaces as
the Anticipator's default: mmaction's ``MultiModalDataPreprocessor`` with
one ``ActionDataPreprocessor`` per modality, the independent reference."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

import lsant_mmaction  # noqa: F401
from lsant_mmaction.datasets import StackedTensors, stack_collate
from lsant_mmaction.models import FeatureDataPreprocessor
from mmaction.registry import MODELS
from ..test_datasets.test_feature_dataset import (DIMS, ROWS, build,
                                                  write_tiny_dataset)

ALL = tuple(DIMS)


def stock(modalities):
    """The Anticipator's default before FeatureDataPreprocessor."""
    return MODELS.build(dict(
        type='MultiModalDataPreprocessor',
        preprocessors={m: dict(type='ActionDataPreprocessor')
                       for m in modalities}))


def anticipator(modalities):
    return MODELS.build(dict(
        type='Anticipator', modalities=modalities,
        cls_head=dict(type='LSTMAnticipationHead', num_classes=5,
                      in_channels=sum(DIMS[m] for m in modalities),
                      hidden_channels=8)))


def assert_same(a, b):
    """Equal bit for bit: tensors (values, dtype, shape, device), numpy
    arrays, data elements (their class and every field), containers."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape, a.device) == (b.dtype, b.shape, b.device)
        assert a.device.type == 'meta' or torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif hasattr(a, 'metainfo_keys'):  # an mmengine data element
        assert_same(dict(a.metainfo_items()), dict(b.metainfo_items()))
        assert_same(dict(a.items()), dict(b.items()))
    else:
        assert a == b


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ek'))
    write_tiny_dataset(root, ROWS)
    return root


def samples_of(root, modalities):
    dataset = build(root, pipeline=[
        dict(type='LoadLMDBFeatures', modalities=modalities,
             feature_dims={m: DIMS[m] for m in modalities}),
        dict(type='PackActionInputs', collect_keys=modalities,
             meta_keys=('segment_id', 'frame_inds'))
    ])
    return [dataset[i] for i in range(len(dataset))]


@pytest.mark.parametrize('modalities', [('rgb', ), ALL], ids=['one', 'three'])
def test_default_gives_the_stock_model_inputs(tiny_root, modalities):
    """The Anticipator's default preprocessor gives exactly what the stock
    one gave: stack_collate and pseudo_collate batches, training and test
    mode, one and three modalities; so the same logits."""
    samples = samples_of(tiny_root, modalities)
    model = anticipator(modalities)
    assert isinstance(model.data_preprocessor, FeatureDataPreprocessor)
    assert model.data_preprocessor.modalities == modalities
    ref = stock(modalities)
    for collate in (stack_collate, pseudo_collate):
        for training in (False, True):
            ours = model.data_preprocessor(collate(samples), training)
            assert_same(ours, ref(collate(samples), training))
            assert ours['inputs'][modalities[0]].shape == (
                3, 14, DIMS[modalities[0]])
        if collate is stack_collate:  # the worker's tensor, not a restack
            batch = collate(samples)
            ours = model.data_preprocessor(batch)
            for m in modalities:
                assert ours['inputs'][m] is batch['inputs'][m].stacked
    model.eval()
    with torch.no_grad():
        a = model.test_step(stack_collate(samples))
    model.data_preprocessor = ref
    with torch.no_grad():
        b = model.test_step(stack_collate(samples))
    for s, t in zip(a, b):
        assert torch.equal(s.pred_score, t.pred_score)


def test_batch_from_worker_processes(tiny_root):
    """A stack_collate batch that crossed the worker queue."""
    dataset = build(tiny_root)
    batch = next(iter(DataLoader(dataset, batch_size=3, num_workers=1,
                                 collate_fn=stack_collate)))
    ours = FeatureDataPreprocessor(modalities=ALL)(batch, True)
    assert_same(ours, stock(ALL)(batch, True))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16,
                                   torch.float64, torch.int64])
def test_rows_lists_and_tensors(dtype):
    """Plain lists of rows (pseudo_collate) and stacked tensors give the
    stock inputs, cast to float32 as ActionDataPreprocessor does."""
    torch.manual_seed(0)
    rows = [(torch.randn(14, 5) * 100).to(dtype) for _ in range(4)]
    labels = [torch.tensor([i]) for i in range(4)]
    pre, ref = FeatureDataPreprocessor(), stock(['rgb', 'obj'])
    out = ref(dict(inputs=dict(rgb=list(rows), obj=list(rows)),
                   data_samples=list(labels)))
    assert out['inputs']['rgb'].dtype == torch.float32
    for given in (list(rows), StackedTensors.from_stacked(torch.stack(rows)),
                  StackedTensors(rows)):
        assert_same(pre(dict(inputs=dict(rgb=given, obj=list(rows)),
                             data_samples=list(labels))), out)
    # a (B, ...) tensor, which the stock one refuses (stack_batch: a list)
    assert_same(pre(dict(inputs=dict(rgb=torch.stack(rows),
                                     obj=list(rows)),
                         data_samples=list(labels))), out)
    keep = FeatureDataPreprocessor(to_float32=False)
    assert keep(dict(inputs=rows, data_samples=None))['inputs'].dtype == dtype


@pytest.mark.parametrize('device', [
    'meta',
    pytest.param('cuda', marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason='no CUDA'))
])
def test_moves_to_the_device(tiny_root, device):
    """Inputs and data samples on the model's device, as the stock one."""
    samples = samples_of(tiny_root, ALL)
    model = anticipator(ALL).to(device)
    ref = stock(ALL).to(device)
    for collate in (stack_collate, pseudo_collate):
        ours = model.data_preprocessor(collate(samples))
        assert_same(ours, ref(collate(samples)))
        assert ours['inputs']['rgb'].device.type == device
        assert ours['data_samples'][0].gt_label.device.type == device


def test_rows_of_different_shapes():
    """Padded as the stock one pads (every dimension but the first, via
    mmengine's stack_batch); what it cannot stack names the modality and
    the shapes."""
    a, b = torch.randn(14, 5), torch.randn(14, 3)
    pre = FeatureDataPreprocessor()
    out = pre(dict(inputs=dict(obj=[a, b]), data_samples=None))
    assert_same(out, stock(['obj'])(dict(inputs=dict(obj=[a, b]),
                                         data_samples=None)))
    assert torch.equal(out['inputs']['obj'][1, :, 3:], torch.zeros(14, 2))
    # mixed dtypes: the stock path too
    mixed = [a, a.double()]
    assert_same(pre(dict(inputs=dict(obj=mixed), data_samples=None)),
                stock(['obj'])(dict(inputs=dict(obj=mixed),
                                    data_samples=None)))
    for rows in ([a, torch.randn(12, 5)], [a, torch.randn(5)]):
        with pytest.raises(ValueError, match=r'"obj".*\(14, 5\).*'):
            pre(dict(inputs=dict(obj=rows), data_samples=None))
        with pytest.raises(Exception):  # the stock one fails as well
            stock(['obj'])(dict(inputs=dict(obj=rows), data_samples=None))


def test_refuses_what_it_cannot_batch():
    pre = FeatureDataPreprocessor(modalities=['rgb'])
    with pytest.raises(KeyError, match='flow'):
        pre(dict(inputs=dict(rgb=[torch.zeros(2)], flow=[torch.zeros(2)]),
                 data_samples=None))
    with pytest.raises(TypeError, match='"rgb"'):
        pre(dict(inputs=dict(rgb=[]), data_samples=None))
    with pytest.raises(TypeError, match='inputs'):
        pre([torch.zeros(2)])


def test_built_from_a_config():
    pre = MODELS.build(dict(type='FeatureDataPreprocessor',
                            modalities=['rgb'], non_blocking=True))
    assert isinstance(pre, FeatureDataPreprocessor)
    assert pre._non_blocking and pre.modalities == ('rgb', )
