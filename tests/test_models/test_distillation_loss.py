"""The loss with a teacher (beta, temperature, the KL form) against
closed forms written here, and the heads' teachers: a teacher store's rows
from the data samples, or horizon self-distillation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

N, C = 6, 5


def prior_file(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random((C, C)).astype(np.float32)
    path = str(tmp_path / 'prior.npy')
    np.save(path, p / p.sum(1, keepdims=True))
    return path, torch.from_numpy(p / p.sum(1, keepdims=True))


def loss(prior, **kwargs):
    return MODELS.build(dict(type='PriorSmoothedCrossEntropyLoss',
                             prior=prior, num_classes=C, **kwargs))


def rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def teacher_rows(seed, n=N):
    return F.softmax(rand(seed, n, C) * 2, -1)


def reference(z, labels, prior, teacher, alpha, beta, temp, mask=None):
    """The target y written out: (1 - a) y + a [(1 - b) y @ prior + b p_T]
    with p_T = p^(1/T) / sum p^(1/T), by numpy."""
    z, p = z.double().numpy(), teacher.double().numpy()
    y = np.eye(C)[labels.numpy()] if labels.dim() == 1 else \
        labels.double().numpy()
    p_t = p ** (1 / temp)
    p_t /= p_t.sum(1, keepdims=True)
    b = beta * (np.ones(len(z)) if mask is None else mask.numpy())[:, None]
    target = (1 - alpha) * y + alpha * ((1 - b) * (y @ prior.double().numpy())
                                        + b * p_t)
    log_q = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -(target * log_q).sum(1).mean()


def test_beta_zero_is_the_prior_loss_and_alpha_zero_cross_entropy(tmp_path):
    path, _ = prior_file(tmp_path)
    z, labels, t = rand(0, N, C), torch.arange(N) % C, teacher_rows(1)
    plain = loss(path, alpha=0.4)(z, labels)
    assert torch.equal(loss(path, alpha=0.4, beta=0.0)(z, labels, teacher=t),
                       plain)
    assert torch.equal(loss(path, alpha=0.0, beta=0.7)(z, labels, teacher=t),
                       F.cross_entropy(z, labels))


@pytest.mark.parametrize('alpha,beta,temp', [
    (0.5, 0.5, 1.0), (0.3, 1.0, 1.0), (0.8, 0.4, 2.0), (0.5, 0.6, 0.5)])
def test_target_with_a_teacher(alpha, beta, temp, tmp_path):
    path, prior = prior_file(tmp_path)
    z, labels, t = rand(2, N, C), torch.arange(N) % C, teacher_rows(3)
    got = loss(path, alpha=alpha, beta=beta, temperature=temp)(
        z, labels, teacher=t)
    np.testing.assert_allclose(
        float(got), reference(z, labels, prior, t, alpha, beta, temp),
        rtol=1e-5)


@pytest.mark.parametrize('temp', [1.0, 2.0, 0.5])
def test_teacher_rows_with_zeros(temp, tmp_path):
    """A top-k store's rows are zero outside their k classes: tempered,
    the zeros stay zero (p^(1/T)) and the rest is renormalised, in rows
    with and without zeros in the same batch."""
    path, prior = prior_file(tmp_path)
    z, labels, t = rand(4, N, C), torch.arange(N) % C, teacher_rows(5)
    t[:3, :2] = 0  # three sparse rows, three dense
    t = t / t.sum(1, keepdim=True)
    got = loss(path, alpha=0.6, beta=0.5, temperature=temp)(
        z, labels, teacher=t)
    np.testing.assert_allclose(
        float(got), reference(z, labels, prior, t, 0.6, 0.5, temp),
        rtol=1e-5)


def test_alpha_one_beta_one_is_cross_entropy_against_the_teacher(tmp_path):
    z, labels, t = rand(4, N, C), torch.arange(N) % C, teacher_rows(5)
    # the teacher alone smooths: no prior needed
    got = loss(None, alpha=1.0, beta=1.0)(z, labels, teacher=t)
    torch.testing.assert_close(got, F.cross_entropy(z, t))


def test_soft_labels_with_a_teacher(tmp_path):
    path, prior = prior_file(tmp_path)
    z, t = rand(6, N, C), teacher_rows(7)
    y = F.softmax(rand(8, N, C), -1)
    got = loss(path, alpha=0.5, beta=0.5, temperature=2.0)(z, y, teacher=t)
    np.testing.assert_allclose(
        float(got), reference(z, y, prior, t, 0.5, 0.5, 2.0), rtol=1e-5)


def test_rows_without_a_teacher_take_the_prior(tmp_path):
    path, prior = prior_file(tmp_path)
    z, labels, t = rand(9, N, C), torch.arange(N) % C, teacher_rows(10)
    mask = torch.tensor([True, False, True, True, False, True])
    t_masked = t.clone()
    t_masked[~mask] = 0  # as LoadTeacherScores(missing='prior') gives them
    got = loss(path, alpha=0.5, beta=0.5)(z, labels, teacher=t_masked,
                                          teacher_mask=mask)
    np.testing.assert_allclose(
        float(got), reference(z, labels, prior, t, 0.5, 0.5, 1.0,
                              mask.double()), rtol=1e-5)
    with pytest.raises(ValueError, match='2 rows have no teacher and the '
                       'loss has no prior'):
        loss(None, alpha=0.5, beta=1.0)(z, labels, teacher=t_masked,
                                        teacher_mask=mask)


def test_kl_form(tmp_path):
    path, prior = prior_file(tmp_path)
    labels, t = torch.arange(N) % C, teacher_rows(11)
    a, b = 0.6, 0.5
    for temp in (1.0, 3.0):
        z = rand(12, N, C).requires_grad_()
        got = loss(path, alpha=a, beta=b, temperature=temp, kd_form='kl')(
            z, labels, teacher=t)
        # Hinton's form written out
        y = F.one_hot(labels, C).float()
        log_q = F.log_softmax(z, -1)
        p_t = t ** (1 / temp)
        p_t = p_t / p_t.sum(1, keepdim=True)
        kl = (p_t * (p_t.log() - F.log_softmax(z / temp, -1))).sum(1)
        expected = ((1 - a) * -(y * log_q).sum(1)
                    + a * (1 - b) * -((y @ prior) * log_q).sum(1)
                    + a * b * temp**2 * kl).mean()
        torch.testing.assert_close(got, expected)
    # T = 1: the soft-target form minus a * b * H(teacher), same gradients
    z1 = rand(13, N, C).requires_grad_()
    z2 = z1.detach().clone().requires_grad_()
    kl_loss = loss(path, alpha=a, beta=b, kd_form='kl')(z1, labels,
                                                        teacher=t)
    soft = loss(path, alpha=a, beta=b)(z2, labels, teacher=t)
    entropy = -(t * t.log()).sum(1).mean()
    torch.testing.assert_close(soft - kl_loss, a * b * entropy)
    kl_loss.backward()
    soft.backward()
    torch.testing.assert_close(z1.grad, z2.grad)


def test_bad_teachers_are_errors(tmp_path):
    path, _ = prior_file(tmp_path)
    kd = loss(path, alpha=0.5, beta=0.5)
    z, labels = rand(14, N, C), torch.arange(N) % C
    with pytest.raises(ValueError, match="needs teacher probabilities: "
                       "LoadTeacherScores"):
        kd(z, labels)
    with pytest.raises(ValueError, match='teacher probabilities must be '
                       'distributions .* row 0'):
        kd(z, labels, teacher=torch.ones(N, C))
    with pytest.raises(ValueError, match=r'do not match the logits \(6, 5\)'):
        kd(z, labels, teacher=teacher_rows(1, n=3))
    with pytest.raises(ValueError, match="teacher must be 'data'"):
        loss(path, alpha=0.5, beta=0.5, teacher='store')
    with pytest.raises(ValueError, match='needs a prior \\(or beta=1'):
        loss(None, alpha=0.5, beta=0.5)


def head(loss_cfg, steps=4):
    return MODELS.build(dict(
        type='LSTMAnticipationHead', num_classes=C, in_channels=3,
        modalities=('rgb', ), hidden_channels=8, dropout=0.0,
        num_anticipation_steps=steps, loss_cls=dict(
            type='PriorSmoothedCrossEntropyLoss', num_classes=C, **loss_cfg)))


def samples(batch, teacher=None, has_teacher=None):
    out = []
    for i in range(batch):
        s = ActionDataSample().set_gt_label(i % C)
        if teacher is not None:
            s.set_metainfo(dict(teacher_score=teacher[i].numpy(),
                                has_teacher=has_teacher[i]))
        out.append(s)
    return out


def test_heads_hand_the_stores_rows_to_the_loss(tmp_path):
    path, prior = prior_file(tmp_path)
    h = head(dict(alpha=0.5, prior=path, beta=0.5, temperature=2.0))
    logits = rand(15, 3, 4, C)
    t = F.softmax(rand(16, 3, 4, C), -1)
    has = [True, False, True]
    inputs = h.distillation_inputs(logits, samples(3, t, has))
    torch.testing.assert_close(inputs['teacher'], t.flatten(0, 1))
    assert inputs['teacher_mask'].tolist() == [True] * 4 + [False] * 4 + [
        True] * 4
    losses = h.loss_by_feat(logits, samples(3, t, has))
    expected = reference(logits.flatten(0, 1),
                         (torch.arange(3) % C).repeat_interleave(4), prior,
                         t.flatten(0, 1), 0.5, 0.5, 2.0,
                         inputs['teacher_mask'].double())
    np.testing.assert_allclose(float(losses['loss_cls']), expected,
                               rtol=1e-5)
    with pytest.raises(KeyError, match="samples \\[0, 1\\] have no "
                       "teacher_score: add LoadTeacherScores"):
        h.loss_by_feat(logits[:2], samples(2))


def test_horizon_self_distillation(tmp_path):
    path, prior = prior_file(tmp_path)
    h = head(dict(alpha=0.5, prior=path, beta=0.5, temperature=2.0,
                  teacher='self'))
    logits = rand(17, 3, 4, C).requires_grad_()
    inputs = h.distillation_inputs(logits, samples(3))
    # the last step (0.25 s: closest to the action) teaches steps 0..2; it
    # has no teacher itself
    last = F.softmax(logits[:, -1].detach(), -1)
    torch.testing.assert_close(
        inputs['teacher'], last[:, None].expand(3, 4, C).flatten(0, 1))
    assert inputs['teacher_mask'].view(3, 4).tolist() == [
        [True, True, True, False]] * 3
    assert not inputs['teacher'].requires_grad
    # the teacher's gradient is stopped: the loss's gradient equals that of
    # the same targets given as fixed data
    h.loss_by_feat(logits, samples(3))['loss_cls'].backward()
    fixed = logits.detach().clone().requires_grad_()
    data = head(dict(alpha=0.5, prior=path, beta=0.5, temperature=2.0))
    t = last[:, None].expand(3, 4, C)
    flat = fixed.flatten(0, 1)
    data.loss_cls(flat, (torch.arange(3) % C).repeat_interleave(4),
                  teacher=t.flatten(0, 1),
                  teacher_mask=inputs['teacher_mask']).backward()
    torch.testing.assert_close(logits.grad, fixed.grad)
    with pytest.raises(ValueError, match='at least 2 anticipation steps'):
        head(dict(alpha=0.5, prior=path, beta=0.5, teacher='self'),
             steps=1).distillation_inputs(rand(1, 3, 1, C), samples(3))
