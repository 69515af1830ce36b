import pytest
import torch

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample


def samples(labels):
    return [ActionDataSample().set_gt_label(int(k)) for k in labels]


def build_model(num_classes=7, loss_cls=None):
    head = dict(
        type='LSTMAnticipationHead',
        num_classes=num_classes,
        in_channels=5 + 3,
        modalities=('rgb', 'obj'),
        hidden_channels=16)
    if loss_cls is not None:
        head['loss_cls'] = loss_cls
    return MODELS.build(
        dict(type='Anticipator', modalities=('rgb', 'obj'), cls_head=head))


def inputs(batch=4):
    return dict(rgb=torch.randn(batch, 14, 5), obj=torch.randn(batch, 14, 3))


def test_forward_shapes():
    model = build_model()
    assert model(inputs(), mode='tensor').shape == (4, 8, 7)
    assert model(inputs(1), mode='tensor').shape == (1, 8, 7)


def test_loss_is_cross_entropy_over_the_8_steps():
    model = build_model().eval()  # no dropout: the logits are reproducible
    x, labels = inputs(), torch.tensor([0, 3, 6, 2])
    losses = model(x, samples(labels), mode='loss')
    assert {'loss_cls', 'top1_acc', 'top5_acc'} <= set(losses)
    assert not any('loss' in k for k in losses if k != 'loss_cls')
    logits = model(x, mode='tensor')
    expected = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 7), labels.repeat_interleave(8))
    torch.testing.assert_close(losses['loss_cls'], expected)
    losses['loss_cls'].backward()
    assert model.cls_head.branch.lstm.weight_ih_l0.grad is not None


def test_predict_gives_per_step_probabilities():
    model = build_model().eval()
    out = model(inputs(3), samples([1, 2, 3]), mode='predict')
    assert len(out) == 3
    score = out[0].pred_score
    assert score.shape == (8, 7)
    torch.testing.assert_close(score.sum(-1), torch.ones(8))
    assert out[0].pred_label.shape == (8, )


def test_missing_modality_and_wrong_channels():
    model = build_model()
    with pytest.raises(KeyError, match='obj'):
        model(dict(rgb=torch.randn(2, 14, 5)), mode='tensor')
    with pytest.raises(ValueError, match='in_channels=8'):
        model(dict(rgb=torch.randn(2, 14, 6), obj=torch.randn(2, 14, 3)),
              mode='tensor')


def test_prior_size_must_match_head(tmp_path):
    import numpy as np
    path = str(tmp_path / 'p.npy')
    np.save(path, np.full((5, 5), 0.2, np.float32))
    with pytest.raises(ValueError, match='prior is 5x5.*num_classes=7'):
        build_model(7, dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.3,
                            prior=path, num_classes=5))
