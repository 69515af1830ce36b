"""The loss with soft labels (mmaction's mixup and cutmix), with a uniform
prior built from nothing, inside an mmaction recognizer, and the checks
made before training."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from lsant_mmaction.models.losses import check_prior_smoothing


def random_prior(num_classes, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random((num_classes, num_classes)).astype(np.float32)
    return p / p.sum(1, keepdims=True)


def build(alpha, prior, tmp_path, num_classes=None):
    if isinstance(prior, np.ndarray):
        path = str(tmp_path / 'prior.npy')
        np.save(path, prior)
        prior, num_classes = path, len(prior)
    return MODELS.build(dict(type='PriorSmoothedCrossEntropyLoss',
                             alpha=alpha, prior=prior,
                             num_classes=num_classes))


def soft_labels(n, c, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(n, c, generator=g) ** 4  # uneven, dense
    return w / w.sum(1, keepdim=True)


def test_soft_labels_follow_the_formula(tmp_path):
    prior = random_prior(6)
    loss = build(0.3, prior, tmp_path)
    logits, y = torch.randn(5, 6), soft_labels(5, 6)
    target = 0.7 * y + 0.3 * y @ torch.from_numpy(prior)
    # independent reference: explicit softmax then log, sample by sample
    probs = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    expected = torch.stack([-(target[i] * torch.log(probs[i])).sum()
                            for i in range(5)]).mean()
    torch.testing.assert_close(loss(logits, y), expected)
    # one-hot soft labels are the hard labels
    hard = torch.tensor([0, 5, 2, 2, 1])
    torch.testing.assert_close(loss(logits, F.one_hot(hard, 6).float()),
                               loss(logits, hard))
    # per-step logits (B, S, C): one soft label for every step
    steps = torch.randn(5, 8, 6)
    torch.testing.assert_close(
        loss(steps, y), loss(steps.flatten(0, 1), y.repeat_interleave(8, 0)))


def test_alpha_zero_with_soft_labels_is_soft_target_cross_entropy(tmp_path):
    logits, y = torch.randn(7, 4), soft_labels(7, 4)
    expected = -(y * F.log_softmax(logits, -1)).sum(-1).mean()
    for loss in (build(0.0, None, tmp_path), build(0.0, random_prior(4),
                                                   tmp_path)):
        torch.testing.assert_close(loss(logits, y), expected)
        assert torch.equal(loss(logits, y), F.cross_entropy(logits, y))


def test_uniform_without_files_is_torch_label_smoothing(tmp_path):
    logits, labels = torch.randn(9, 11), torch.randint(0, 11, (9, ))
    for prior in ('uniform', dict(kind='uniform')):
        loss = build(0.2, prior, tmp_path, num_classes=11)
        torch.testing.assert_close(
            loss(logits, labels),
            F.cross_entropy(logits, labels, label_smoothing=0.2))


def test_soft_labels_must_be_distributions(tmp_path):
    loss = build(0.3, random_prior(3), tmp_path)
    with pytest.raises(ValueError, match='row 1 sums to 2.000000'):
        loss(torch.randn(2, 3), torch.tensor([[1., 0, 0], [1, 1, 0]]))
    with pytest.raises(ValueError, match=r'soft labels \(N, C\), got '
                       r'\(2, 3\) and \(2, 4\)'):
        loss(torch.randn(2, 3), torch.full((2, 4), 0.25))


# ---- inside an mmaction recognizer ----------------------------------------

C = 5


def recognizer(loss_cls, blending=None, label_smooth_eps=0.0):
    return MODELS.build(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNet', depth=18, num_stages=1,
                      out_indices=(0, ), strides=(1, ), dilations=(1, ),
                      pretrained=None, norm_eval=False),
        cls_head=dict(type='TSNHead', num_classes=C, in_channels=64,
                      dropout_ratio=0.0, loss_cls=loss_cls,
                      label_smooth_eps=label_smooth_eps,
                      average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[128] * 3, std=[64] * 3,
                               format_shape='NCHW', blending=blending)))


def batch(n=4):
    torch.manual_seed(0)
    inputs = [torch.randint(0, 255, (2, 3, 16, 16)).float()
              for _ in range(n)]  # 2 clips of one frame each
    samples = [ActionDataSample().set_gt_label(i % C) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('blending', [
    dict(type='MixupBlending', num_classes=C, alpha=0.4),
    dict(type='CutmixBlending', num_classes=C, alpha=0.4)])
def test_blending_gives_the_loss_soft_labels(blending, tmp_path):
    prior = random_prior(C, seed=3)
    loss_cls = dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.4,
                    prior=str(tmp_path / 'p.npy'), num_classes=C)
    np.save(loss_cls['prior'], prior)
    model = recognizer(loss_cls, blending).eval()  # BN: batch-independent
    torch.manual_seed(1)
    data = model.data_preprocessor(batch(), training=True)
    labels = torch.stack([s.gt_label for s in data['data_samples']])
    assert labels.shape == (4, C) and labels.is_floating_point()
    assert ((labels > 0).sum(1) == 2).any()  # really mixed
    losses = model(**data, mode='loss')
    scores = model(data['inputs'], mode='tensor', stage='head')  # (B, C)
    target = 0.6 * labels + 0.4 * labels @ torch.from_numpy(prior)
    expected = -(target * F.log_softmax(scores, -1)).sum(-1).mean()
    torch.testing.assert_close(losses['loss_cls'], expected)


def test_a_head_that_smooths_first_is_refused(tmp_path):
    loss_cls = dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.2,
                    prior='uniform', num_classes=C)
    check_prior_smoothing(recognizer(loss_cls))
    with pytest.raises(ValueError, match=r'cls_head.label_smooth_eps=0.1 '
                       'smooths the labels before cls_head.loss_cls'):
        check_prior_smoothing(recognizer(loss_cls, label_smooth_eps=0.1))
    # alpha 0: mmaction's smoothing alone, as with its CrossEntropyLoss
    check_prior_smoothing(recognizer(dict(loss_cls, alpha=0.0),
                                     label_smooth_eps=0.1))


def test_training_without_the_prior_stops_before_it_starts(tmp_path):
    gone = str(tmp_path / 'gone' / 'classes.txt')
    model = recognizer(dict(
        type='PriorSmoothedCrossEntropyLoss', alpha=0.2, num_classes=C,
        prior=dict(kind='gl', class_names=gone, glove='glove-6b-50d-classes')))
    assert model.cls_head.loss_cls.prior_state == 'awaiting a checkpoint'
    model.eval()  # testing: the checkpoint will fill it
    with pytest.raises(RuntimeError, match=f'cls_head.loss_cls: the prior '
                       f"was not built \\(its sources \\['{gone}'\\]"):
        check_prior_smoothing(model)
    check_prior_smoothing(model, loads_checkpoint=True)
    with pytest.raises(RuntimeError, match='no checkpoint provided it'):
        model.train()  # what mmengine's train loop does first
    state = {k: v for k, v in model.state_dict().items()}
    state['cls_head.loss_cls.prior'] = torch.full((C, C), 1 / C)
    model.load_state_dict(state)
    model.train()
