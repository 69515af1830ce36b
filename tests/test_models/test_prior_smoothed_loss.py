import logging
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

from mmaction.models.losses import CrossEntropyLoss
from mmaction.registry import MODELS
from lsant_mmaction.priors import uniform_prior


def random_prior(num_classes, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random((num_classes, num_classes)).astype(np.float32)
    return p / p.sum(1, keepdims=True)


def build(alpha, prior):
    path = None
    if prior is not None:
        import tempfile
        path = tempfile.mktemp(suffix='.npy')
        np.save(path, prior)
    return MODELS.build(
        dict(type='PriorSmoothedCrossEntropyLoss', alpha=alpha, prior=path,
             num_classes=None if prior is None else len(prior)))


def test_matches_hand_built_soft_target():
    torch.manual_seed(0)
    prior = random_prior(6)
    loss = build(0.4, prior)
    logits, labels = torch.randn(5, 6), torch.tensor([0, 5, 2, 2, 1])
    target = 0.6 * F.one_hot(labels, 6).float() + 0.4 * torch.from_numpy(
        prior)[labels]
    # independent reference: explicit softmax then log, sample by sample
    probs = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    expected = torch.stack([-(target[i] * torch.log(probs[i])).sum()
                            for i in range(5)]).mean()
    torch.testing.assert_close(loss(logits, labels), expected)


def test_alpha_zero_is_exactly_cross_entropy():
    logits, labels = torch.randn(9, 4), torch.randint(0, 4, (9, ))
    assert torch.equal(build(0.0, None)(logits, labels),
                       F.cross_entropy(logits, labels))
    assert torch.equal(build(0.0, random_prior(4))(logits, labels),
                       F.cross_entropy(logits, labels))


def test_uniform_prior_equals_mmaction_label_smoothing():
    eps, c = 0.2, 11
    logits, labels = torch.randn(7, c), torch.randint(0, c, (7, ))
    ours = build(eps, uniform_prior(c))(logits, labels)
    # mmaction's BaseHead smoothing: (1 - eps) * onehot + eps / C
    soft = (1 - eps) * F.one_hot(labels, c).float() + eps / c
    theirs = CrossEntropyLoss()(logits, soft)
    torch.testing.assert_close(ours, theirs)


def test_per_step_logits():
    prior = random_prior(5)
    loss = build(0.5, prior)
    logits, labels = torch.randn(3, 8, 5), torch.tensor([4, 0, 2])
    flat = loss(logits.reshape(-1, 5), labels.repeat_interleave(8))
    torch.testing.assert_close(loss(logits, labels), flat)


def test_numerically_stable_for_large_logits():
    loss = build(0.5, random_prior(3))
    logits = torch.tensor([[1000., -1000., 0.], [-1e4, 1e4, 0.]])
    value = loss(logits, torch.tensor([0, 1]))
    assert torch.isfinite(value)


def test_prior_is_a_buffer_in_the_state_dict():
    loss = build(0.3, random_prior(4))
    assert 'prior' in loss.state_dict()
    assert loss.prior.dtype == torch.float32


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='alpha must be in'):
        build(1.5, random_prior(3))
    with pytest.raises(ValueError, match='needs a prior'):
        build(0.1, None)
    bad = np.eye(3, dtype=np.float32)
    bad[1, 1] = 0.5
    path = str(tmp_path / 'bad.npy')
    np.save(path, bad)
    with pytest.raises(ValueError, match='row 1 sums to 0.5'):
        MODELS.build(dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.1,
                          prior=path, num_classes=3))
    with pytest.raises(ValueError, match='num_classes=4'):
        MODELS.build(dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.1,
                          prior=str(path), num_classes=4))


def test_missing_sources_need_a_checkpoint(tmp_path):
    spec = dict(kind='vn', dataset='epic55',
                actions=str(tmp_path / 'gone' / 'actions.csv'))
    cfg = dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.5, prior=spec,
               num_classes=3)
    loss = MODELS.build(cfg)
    assert loss.prior_state == 'awaiting a checkpoint'
    logits, labels = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(RuntimeError, match='gone/actions.csv'):
        loss(logits, labels)
    # a checkpoint's prior is validated where it enters
    broken = torch.from_numpy(random_prior(3))
    broken[1, 2] = float('nan')
    with pytest.raises(ValueError, match='the prior stored in the '
                       'checkpoint: prior has 1 NaN'):
        loss.load_state_dict({'prior': broken})
    assert loss.prior_state == 'awaiting a checkpoint'
    prior = torch.from_numpy(random_prior(3))
    loss.load_state_dict({'prior': prior})
    assert loss.prior_state == 'ready'
    reference = build(0.5, prior.numpy())
    torch.testing.assert_close(loss(logits, labels),
                               reference(logits, labels))


def test_configured_prior_wins_over_checkpoint():
    configured = random_prior(3, seed=1)
    loss = build(0.5, configured)
    loss.load_state_dict({'prior': torch.from_numpy(random_prior(3, 2))})
    np.testing.assert_array_equal(loss.prior.numpy(), configured)


class _Records(logging.Handler):
    """Collects the messages of the current MMLogger."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def glove_spec(tmp_path, glove_text):
    # EGTEA layout: 0 take cup, 1 wash cup, 2 cut onion
    actions = tmp_path / 'actions.csv'
    actions.write_text('0, 0_0, Take_cup\n1, 1_0, Wash_cup\n2, 2_1, '
                       'Cut_onion\n')
    glove = tmp_path / 'glove.txt'
    glove.write_text(glove_text)
    return dict(kind='gl', dataset='egtea', actions=str(actions),
                glove=str(glove))


def test_configured_glove_covering_no_class_name_is_an_error(tmp_path):
    spec = glove_spec(tmp_path, 'zebra 1 0\ngiraffe 0 1\n')
    with pytest.raises(ValueError, match=f'{tmp_path}/glove.txt has a '
                       'vector for none of the class names'):
        MODELS.build(dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.5,
                          prior=spec, num_classes=3,
                          cache_dir=str(tmp_path / 'cache')))


def test_configured_glove_missing_names_are_logged(tmp_path):
    spec = glove_spec(tmp_path, 'take 1 0\nwash 0 1\ncup 2 0\n')
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        for _ in range(2):  # built, then read from the cache: logged both
            with warnings.catch_warnings():
                warnings.simplefilter('error')  # to the log, not stderr
                MODELS.build(dict(type='PriorSmoothedCrossEntropyLoss',
                                  alpha=0.5, prior=spec, num_classes=3,
                                  cache_dir=str(tmp_path / 'cache')))
    finally:
        logger.removeHandler(records)
    expected = (f'prior: {tmp_path}/glove.txt has no vector for 2 of the 5 '
                'class names')
    assert len(records.messages) == 2
    for message in records.messages:
        assert message.startswith(expected), message
        assert message.endswith(': Cut, onion; 1 actions have no embedding '
                                'at all and get a one-hot row (no smoothing)')
