"""AVTHead and AFFTHead: shapes, the two rules, losses, a training step,
parameter counts."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from .two_rules import assert_causal, assert_independent

MODS = ('rgb', 'flow', 'obj')
DIMS = dict(rgb=8, flow=8, obj=5)  # rgb, flow: the fusion size (identity)
C, V, N, T = 7, 3, 4, 14
TINY = dict(type='CausalTransformer', channels=16, num_layers=2,
            num_heads=2, max_steps=32)
NO_DROP = dict(embed_dropout=0.0, attn_dropout=0.0, resid_dropout=0.0)
FUSER = dict(type='ModalityTokenFuser', depth=2, num_heads=2)
FUSER_NO_DROP = dict(embed_dropout=0.0, dropout=0.0, attn_dropout=0.0,
                     drop_path=0.0)


def build(kind, dropout=True, **kwargs):
    torch.manual_seed(0)
    cfg = dict(num_classes=C, modalities=MODS,
               transformer=dict(TINY, **({} if dropout else NO_DROP)))
    if not dropout:
        cfg['dropout'] = 0.0
    if kind == 'avt':
        cfg.update(type='AVTHead', in_channels=sum(DIMS.values()))
    else:
        cfg.update(type='AFFTHead', modality_channels=DIMS,
                   fusion_channels=8,
                   fuser=dict(FUSER, **({} if dropout else FUSER_NO_DROP)))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def split(x):
    """Concatenated features (B, T, 21) -> the modalities."""
    out, start = {}, 0
    for m in MODS:
        out[m] = x[..., start:start + DIMS[m]]
        start += DIMS[m]
    return out


def inputs(batch=3, steps=T):
    return torch.randn(batch, steps, sum(DIMS.values()))


def samples(labels, verbs=None, nouns=None, past=None, past_verbs=None,
            past_nouns=None):
    out = []
    for i, k in enumerate(labels):
        sample = ActionDataSample().set_gt_label(int(k))
        meta = {}
        for key, values in (('verb_label', verbs), ('noun_label', nouns)):
            if values is not None:
                meta[key] = int(values[i])
        for key, values in (('past_label', past),
                            ('past_verb_label', past_verbs),
                            ('past_noun_label', past_nouns)):
            if values is not None:
                meta[key] = np.asarray(values[i], np.int64)
        sample.set_metainfo(meta)
        out.append(sample)
    return out


def random_past(batch, classes, steps=T):
    past = torch.randint(0, classes, (batch, steps))
    past[:, :3] = -1  # the first steps: no segment covers their frames
    past[0, 5] = -1
    return past.numpy()


@pytest.mark.parametrize('kind', ['avt', 'afft'])
def test_shapes_and_predictions(kind):
    head = build(kind).eval()
    assert head(split(inputs())).shape == (3, 8, C)
    assert head(split(inputs(1))).shape == (1, 8, C)
    one = build(kind, num_anticipation_steps=1).eval()  # official protocol
    assert one(split(inputs(2, 10))).shape == (2, 1, C)
    out = head.predict(split(inputs(2)), samples([1, 2]))
    assert out[0].pred_score.shape == (8, C)
    torch.testing.assert_close(out[0].pred_score.sum(-1), torch.ones(8))
    assert out[0].pred_label.shape == (8, )
    with pytest.raises(ValueError, match='cannot predict at 8 of 5 steps'):
        head(split(inputs(2, 5)))


@pytest.mark.parametrize('kind', ['avt', 'afft'])
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_causal(kind, mode):
    """Perturbing the features after step t leaves every output at steps
    <= t bit-identical: the action logits of the last 8 steps, the
    predicted features and the past-action logits of all 14 steps."""
    head = build(kind, dropout=False, num_verbs=V, num_nouns=N)
    head.train(mode == 'train')
    outputs = {
        'action': lambda x: head(split(x)),
        'z_hat': lambda x: head.forward_outputs(split(x))['z_hat'],
        'past_action':
        lambda x: head.forward_outputs(split(x))['past_action'],
        'noun': lambda x: head.forward_outputs(split(x))['noun'],
    }
    # t from 5 for outputs of the last 8 steps (from step 6); past logit
    # t + 1 reads steps <= t, so with t = 12 none would change
    steps = dict(action=(5, 9, 12), noun=(5, 12), z_hat=(0, 6, 12),
                 past_action=(0, 6, 11))
    x = inputs()
    for name, fn in outputs.items():
        for t in steps[name]:
            assert_causal(fn, x, t)


@pytest.mark.parametrize('kind', ['avt', 'afft'])
def test_samples_are_independent(kind):
    head = build(kind).eval()
    x = inputs(4)
    for b in range(4):
        assert_independent(lambda x: head(split(x)), x, b)
    assert_independent(
        lambda x: head.forward_outputs(split(x))['past_action'], x, 2)


@pytest.mark.parametrize('kind', ['avt', 'afft'])
def test_training_step_reaches_every_parameter(kind):
    """All losses on: a step gives finite losses named for mmengine, a
    gradient for every parameter, and lowers the loss on the batch."""
    head = build(kind, num_verbs=V, num_nouns=N, feat_loss_weight=1.0,
                 past_loss_weight=0.5).train()
    x = split(inputs(4))
    batch = samples([0, 3, 6, 2], verbs=[0, 1, 2, 0], nouns=[3, 2, 1, 0],
                    past=random_past(4, C), past_verbs=random_past(4, V),
                    past_nouns=random_past(4, N))
    optim = torch.optim.AdamW(head.parameters(), lr=1e-2)
    first = None
    for _ in range(5):
        losses = head.loss(x, batch)
        assert set(losses) == {
            'loss_cls', 'loss_verb', 'loss_noun', 'loss_feat', 'loss_past',
            'loss_past_verb', 'loss_past_noun', 'top1_acc', 'top5_acc'
        }
        total = sum(v for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total)
        optim.zero_grad()
        total.backward()
        if first is None:
            first = total.item()
            no_grad = [n for n, p in head.named_parameters()
                       if p.grad is None or not p.grad.abs().sum() > 0]
            assert no_grad == []
        optim.step()
    head.eval()
    with torch.no_grad():
        last = sum(v for k, v in head.loss(x, batch).items() if 'loss' in k)
    assert last.item() < first


@pytest.mark.parametrize('kind', ['avt', 'afft'])
def test_losses_closed_form(kind):
    """Action loss over the 8 steps, verb loss with a uniform prior over
    verbs, feature regression on the next step, past loss over the
    labelled steps only (-1 left out)."""
    alpha = 0.3
    head = build(kind, num_verbs=V, feat_loss_weight=2.0,
                 past_loss_weight=0.5,
                 loss_verb=dict(type='PriorSmoothedCrossEntropyLoss',
                                alpha=alpha, prior='uniform',
                                num_classes=V)).eval()
    x = split(inputs(3))
    labels, verbs = torch.tensor([1, 6, 0]), torch.tensor([2, 0, 1])
    past = random_past(3, C)
    losses = head.loss(x, samples(labels, verbs=verbs, past=past,
                                  past_verbs=random_past(3, V)))
    with torch.no_grad():
        out = head.forward_outputs(x)
    expected = F.cross_entropy(out['action'].reshape(-1, C),
                               labels.repeat_interleave(8))
    torch.testing.assert_close(losses['loss_cls'], expected)
    log_p = F.log_softmax(out['verb'].reshape(-1, V), -1)
    target = verbs.repeat_interleave(8)
    smoothed = (1 - alpha) * -log_p[torch.arange(24), target] \
        + alpha * -log_p.mean(-1)
    torch.testing.assert_close(losses['loss_verb'], smoothed.mean())
    z, z_hat = out['z'], out['z_hat']
    torch.testing.assert_close(
        losses['loss_feat'], 2.0 * ((z_hat[:, :-1] - z[:, 1:])**2).mean())
    if kind == 'avt':  # AVT's feature target: the input features
        torch.testing.assert_close(z, torch.cat([x[m] for m in MODS], -1))
    past = torch.from_numpy(past)
    keep = past >= 0
    expected_past = F.cross_entropy(out['past_action'][keep], past[keep])
    torch.testing.assert_close(losses['loss_past'], 0.5 * expected_past)
    # the past logits: step 0 from its own feature, then the predictions
    torch.testing.assert_close(out['past_action'][:, 0],
                               head.classifier(z[:, 0]))
    torch.testing.assert_close(out['past_action'][:, 1:],
                               head.classifier(z_hat[:, :-1]))


def test_past_loss_shares_the_action_prior_unless_given():
    head = build('avt', past_loss_weight=1.0,
                 loss_cls=dict(type='PriorSmoothedCrossEntropyLoss',
                               alpha=0.2, prior='uniform', num_classes=C))
    assert not hasattr(head, 'loss_past')  # loss_cls serves both
    head = build('avt', past_loss_weight=1.0,
                 loss_past=dict(type='PriorSmoothedCrossEntropyLoss',
                                alpha=0.1, prior='uniform', num_classes=C))
    assert head.loss_past.alpha == 0.1
    head = build('avt', past_loss_weight=1.0).eval()
    x = split(inputs(2))
    all_unlabelled = np.full((2, T), -1)
    losses = head.loss(x, samples([1, 2], past=all_unlabelled))
    assert losses['loss_past'].item() == 0.0
    assert losses['loss_past'].requires_grad


def test_loss_errors_name_what_is_missing():
    head = build('afft', past_loss_weight=1.0)
    x = split(inputs(2))
    with pytest.raises(KeyError, match="'past_label'.*meta_keys"):
        head.loss(x, samples([1, 2]))
    with pytest.raises(ValueError, match=r"'past_label' of sample 0 has "
                       r'shape \(10,\), expected \(14,\)'):
        head.loss(x, samples([1, 2], past=np.zeros((2, 10))))
    verb_head = build('afft', num_verbs=V)
    with pytest.raises(KeyError, match="'verb_label'"):
        verb_head.loss(x, samples([1, 2]))
    soft = samples([1, 2])
    for s in soft:
        s.set_gt_label(torch.full((C, ), 1 / C))
    with pytest.raises(ValueError, match='soft action labels'):
        verb_head.loss(x, soft)
    losses = build('afft').loss(x, soft)  # soft labels alone are fine
    assert torch.isfinite(losses['loss_cls'])
    with pytest.raises(ValueError, match='loss_verb.*num_classes=5.*'
                       'num_verbs=3'):
        build('avt', num_verbs=V,
              loss_verb=dict(type='PriorSmoothedCrossEntropyLoss',
                             alpha=0.1, prior='uniform', num_classes=5))
    with pytest.raises(ValueError, match='loss_past is given but past_loss'):
        build('avt', loss_past=dict(type='CrossEntropyLoss'))
    with pytest.raises(ValueError, match='loss_noun is given but num_nouns'):
        build('avt', loss_noun=dict(type='CrossEntropyLoss'))
    with pytest.raises(ValueError, match="missing \\['obj'\\]"):
        build('afft', modality_channels=dict(rgb=8, flow=8))
    with pytest.raises(ValueError, match='obj features have 6 channels'):
        build('afft')(dict(split(inputs(1)), obj=torch.randn(1, T, 6)))
    with pytest.raises(ValueError, match='max_steps=32'):
        build('avt')(split(inputs(1, 40)))


@pytest.mark.parametrize('kind', ['avt', 'afft'])
def test_through_the_anticipator(kind):
    head = dict(type='AVTHead', num_classes=C,
                in_channels=sum(DIMS.values()), transformer=TINY)
    if kind == 'afft':
        head = dict(type='AFFTHead', num_classes=C, modality_channels=DIMS,
                    fusion_channels=8, fuser=FUSER, transformer=TINY)
    model = MODELS.build(dict(type='Anticipator', modalities=MODS,
                              cls_head=head))
    x = split(inputs(2))
    losses = model(x, samples([1, 2]), mode='loss')
    assert {'loss_cls', 'top1_acc', 'top5_acc'} <= set(losses)
    assert ('loss_feat' in losses) == (kind == 'avt')  # AVT's default
    out = model.eval()(x, samples([1, 2]), mode='predict')
    assert out[1].pred_score.shape == (8, C)


def test_bf16_autocast_keeps_float32_logits():
    head = build('afft').eval()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head(split(inputs(2)))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


def gpt_params(d, layers, inner, positions):
    """GPT-2 without token embeddings: positions, blocks, final norm."""
    block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (
        d * inner + inner) + (inner * d + d)
    return positions * d + layers * block + 2 * d


def fuser_params(d, depth, hidden):
    block = 2 * d + 3 * d * d + (d * d + d) + 2 * d + (d * hidden + hidden) \
        + (hidden * d + d)
    return d + depth * block + 2 * d


def test_parameter_counts():
    """Tiny heads match the formula; the official EK100 sizes (built on
    the meta device) are AVT-h's 312.3 M and AFFT's 388.3 M parameters."""
    avt = build('avt')
    classifier = 21 * C + C  # on the decoded 21-dim prediction
    expected = gpt_params(16, 2, 64, 32) + 2 * 21 * 16 + classifier
    assert sum(p.numel() for p in avt.parameters()) == expected
    afft = build('afft')
    expected = (gpt_params(16, 2, 64, 32) + 2 * 8 * 16 + (8 * C + C) +
                5 * 8 + fuser_params(8, 2, 32))
    assert sum(p.numel() for p in afft.parameters()) == expected
    with torch.device('meta'):
        avt = MODELS.build(dict(type='AVTHead', num_classes=3806,
                                in_channels=1024, modalities=('rgb', )))
        afft = MODELS.build(dict(
            type='AFFTHead', num_classes=3806, modalities=MODS,
            modality_channels=dict(rgb=1024, flow=1024, obj=352)))
    gpt = gpt_params(2048, 6, 8192, 1024)
    assert sum(p.numel() for p in avt.parameters()) == (
        gpt + 2 * 1024 * 2048 + 1024 * 3806 + 3806)
    assert sum(p.numel() for p in afft.parameters()) == (
        gpt + 2 * 1024 * 2048 + 1024 * 3806 + 3806 + 352 * 1024 +
        fuser_params(1024, 6, 4096))
    assert math.isclose(sum(p.numel() for p in afft.parameters()) / 1e6,
                        388.27, abs_tol=0.01)
