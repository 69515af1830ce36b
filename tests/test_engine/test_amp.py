"""CPUAmpOptimWrapper, the bf16 capability check and the --amp config
changes of lsant_mmaction.engine.amp."""
import logging

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from lsant_mmaction.engine import CPUAmpOptimWrapper, amp

SGD = dict(type='SGD', lr=0.1, momentum=0.9)


def tiny_model(tmp_path, num_classes=7):
    """An LSTM anticipator with the prior-smoothed loss (alpha 0.5)."""
    rng = np.random.default_rng(0)
    prior = rng.random((num_classes, num_classes)).astype(np.float32)
    np.save(tmp_path / 'prior.npy', prior / prior.sum(1, keepdims=True))
    head = dict(
        type='LSTMAnticipationHead', num_classes=num_classes,
        in_channels=5, hidden_channels=16,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.5,
                      prior=str(tmp_path / 'prior.npy'),
                      num_classes=num_classes))
    return MODELS.build(
        dict(type='Anticipator', modalities=('rgb', ), cls_head=head))


def batch(size=4, num_classes=7):
    return (dict(rgb=torch.randn(size, 14, 5)), [
        ActionDataSample().set_gt_label(int(k))
        for k in torch.randint(0, num_classes, (size, ))
    ])


def wrapper(model, **extra):
    """Built from a config, as mmengine's runner builds it."""
    return build_optim_wrapper(
        model, dict(type='CPUAmpOptimWrapper', optimizer=SGD, **extra))


@pytest.fixture
def messages(monkeypatch):
    """Lines logged through the current MMLogger, with the once-per-process
    flag of the bf16 warning reset."""
    monkeypatch.setattr(amp, '_warned', False)
    logger = MMLogger.get_instance(f'amp-test-{id(monkeypatch)}')
    lines = []

    class Keep(logging.Handler):

        def emit(self, record):
            lines.append((record.levelno, record.getMessage()))

    logger.addHandler(Keep())
    return lines


def test_built_from_a_config_and_autocasts_inside_its_context(tmp_path):
    model = tiny_model(tmp_path)
    optim = wrapper(model, dtype='bfloat16')
    assert type(optim) is CPUAmpOptimWrapper
    linear = torch.nn.Linear(3, 2)
    with optim.optim_context(model):
        assert linear(torch.ones(1, 3)).dtype == torch.bfloat16
    assert linear(torch.ones(1, 3)).dtype == torch.float32
    # dtype defaults to bfloat16; mmaction's scope finds it as well
    assert wrapper(model).cast_dtype == torch.bfloat16


def test_only_bfloat16(tmp_path):
    with pytest.raises(ValueError, match="'bfloat16' only, got "
                       "dtype='float16'"):
        wrapper(tiny_model(tmp_path), dtype='float16')


def test_a_training_step_under_autocast(tmp_path):
    """bf16 logits, an fp32 loss, finite fp32 gradients, fp32 weights and
    prior, and the step changes the weights."""
    torch.manual_seed(0)
    model = tiny_model(tmp_path)
    optim = wrapper(model)
    inputs, samples = batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()  # no dropout: the same logits but for autocast
    with torch.no_grad():
        fp32 = model(inputs, mode='tensor')
        with optim.optim_context(model):
            logits = model(inputs, mode='tensor')
    assert logits.dtype == torch.float32  # the classifier in float32
    assert not torch.equal(logits, fp32)  # the LSTM's matmuls ran in bf16
    torch.testing.assert_close(logits, fp32, atol=0.05, rtol=0)
    model.train()
    with optim.optim_context(model):
        losses = model(inputs, samples, mode='loss')
    assert losses['loss_cls'].dtype == torch.float32
    loss, _ = model.parse_losses(losses)
    optim.backward(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    optim.step()
    for name, t in model.state_dict().items():
        assert t.dtype == torch.float32, name
    assert torch.equal(model.state_dict()['cls_head.loss_cls.prior'],
                       before['cls_head.loss_cls.prior'])
    assert not torch.equal(
        model.state_dict()['cls_head.branch.lstm.weight_ih_l0'],
        before['cls_head.branch.lstm.weight_ih_l0'])


def test_train_step_through_the_model(tmp_path):
    """mmengine's BaseModel.train_step with the wrapper, as the runner."""
    model = tiny_model(tmp_path)
    inputs, samples = batch()
    log_vars = model.train_step(
        dict(inputs=inputs, data_samples=samples), wrapper(model))
    assert torch.isfinite(log_vars['loss'])


def stepped(optim, model):
    """One step, so that the optimizer has momentum state."""
    inputs, samples = batch()
    with optim.optim_context(model):
        loss, _ = model.parse_losses(model(inputs, samples, mode='loss'))
    optim.update_params(loss)
    return optim.state_dict()


def same_state(a, b):
    assert a.keys() == b.keys()
    assert a['param_groups'] == b['param_groups']
    assert a['state'].keys() == b['state'].keys()
    for i in a['state']:
        assert torch.equal(a['state'][i]['momentum_buffer'],
                           b['state'][i]['momentum_buffer'])


def test_state_dict_is_optim_wrappers_both_ways(tmp_path):
    """--resume across amp/fp32: each loads the other's state dict."""
    torch.manual_seed(0)
    model = tiny_model(tmp_path)
    plain = build_optim_wrapper(model, dict(optimizer=SGD))
    assert type(plain) is OptimWrapper
    from_plain = stepped(plain, model)
    amp_optim = wrapper(model)
    amp_optim.load_state_dict(from_plain)
    same_state(amp_optim.state_dict(), from_plain)
    from_amp = stepped(amp_optim, model)
    assert 'loss_scaler' not in from_amp
    fresh = build_optim_wrapper(model, dict(optimizer=SGD))
    fresh.load_state_dict(from_amp)
    same_state(fresh.state_dict(), from_amp)


def test_loads_a_cuda_amp_state_dict_without_its_scaler(tmp_path):
    model = tiny_model(tmp_path)
    state = stepped(build_optim_wrapper(model, dict(optimizer=SGD)), model)
    cuda_amp = dict(state, loss_scaler=dict(scale=65536.0, growth_factor=2.0))
    optim = wrapper(model)
    optim.load_state_dict(cuda_amp)
    assert 'loss_scaler' in cuda_amp  # the caller's dict is left alone
    same_state(optim.state_dict(), state)


def test_warns_once_where_the_cpu_has_no_bf16_units(tmp_path, monkeypatch,
                                                      messages):
    monkeypatch.setattr(amp, 'cpu_bf16_units', lambda: ())
    model = tiny_model(tmp_path)
    wrapper(model)
    wrapper(model)
    warnings = [m for level, m in messages if level == logging.WARNING]
    assert len(warnings) == 1
    assert 'this CPU has no bf16 matrix instructions' in warnings[0]
    assert 'slower than in float32; drop --amp' in warnings[0]


def test_silent_where_the_cpu_has_them(tmp_path, monkeypatch, messages):
    monkeypatch.setattr(amp, 'cpu_bf16_units', lambda: ('AMX-BF16', ))
    wrapper(tiny_model(tmp_path))
    assert not [m for level, m in messages if level == logging.WARNING]


@pytest.mark.parametrize('text, found', [
    ('flags\t\t: fpu sse avx2 avx512f avx512bw\n', ()),
    ('flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16 amx_int8\n',
     ('AMX-BF16', 'AVX512-BF16')),
    ('processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n', ('Arm BF16', )),
    ('processor\t: 0\nFeatures\t: fp asimd evtstrm\n', ()),
])
def test_units_read_from_the_cpu_flags(tmp_path, monkeypatch, text, found):
    (tmp_path / 'cpuinfo').write_text(text)
    flags = amp._cpuinfo_flags(str(tmp_path / 'cpuinfo'))
    monkeypatch.setattr(amp, '_cpuinfo_flags', lambda: flags)
    assert set(amp.cpu_bf16_units()) == set(found)


def test_this_machine_agrees_with_torch():
    """On x86 Linux, the flags and torch's own detection agree."""
    flags = amp._cpuinfo_flags()
    if 'avx2' not in flags:
        pytest.skip('not an x86 CPU with /proc/cpuinfo')
    units = amp.cpu_bf16_units()
    assert ('AVX512-BF16' in units) == torch.cpu._is_avx512_bf16_supported()


def demo_cfg():
    return Config(
        dict(optim_wrapper=dict(optimizer=SGD, loss_scale=512.0),
             val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop')))


def test_amp_for_training_on_a_cpu(monkeypatch):
    monkeypatch.setattr(amp, 'get_device', lambda: 'cpu')
    cfg = demo_cfg()
    amp.use_amp_for_training(cfg)
    assert cfg.optim_wrapper == dict(
        type='CPUAmpOptimWrapper', dtype='bfloat16', optimizer=SGD)
    assert cfg.val_cfg == dict(type='ValLoop')  # exact model selection


def test_amp_for_training_on_cuda(monkeypatch):
    monkeypatch.setattr(amp, 'get_device', lambda: 'cuda')
    cfg = demo_cfg()
    cfg.optim_wrapper.pop('loss_scale')
    amp.use_amp_for_training(cfg)
    assert cfg.optim_wrapper == dict(
        type='AmpOptimWrapper', loss_scale='dynamic', optimizer=SGD)
    assert cfg.val_cfg == dict(type='ValLoop')


def test_amp_for_testing_and_unsupported_devices(monkeypatch):
    monkeypatch.setattr(amp, 'get_device', lambda: 'cpu')
    cfg = demo_cfg()
    amp.use_amp_for_testing(cfg)
    assert cfg.test_cfg == dict(type='TestLoop', fp16=True)
    monkeypatch.setattr(amp, 'get_device', lambda: 'mps')
    with pytest.raises(ValueError, match="would use 'mps'"):
        amp.use_amp_for_training(demo_cfg())
    with pytest.raises(ValueError, match="would use 'mps'"):
        amp.use_amp_for_testing(demo_cfg())


def test_bf16_logits_tie_at_the_top_5_boundary_but_the_heads_do_not():
    """An EK55-sized bf16 classifier's logits often tie at ranks 5 and 6 (a
    tie is a miss); the heads' Float32Classifier, on the same input under
    autocast, gives float32 logits that do not, and without autocast it is
    the plain classifier bit for bit."""
    from lsant_mmaction.models.heads.float32_classifier import \
        Float32Classifier
    torch.manual_seed(0)
    classifier = torch.nn.Linear(1024, 2513)
    ours = Float32Classifier(torch.nn.Dropout(0.8), classifier).eval()
    with torch.no_grad():
        classifier.weight.mul_(8)  # logits over about +-15
        h = torch.tanh(torch.randn(1000, 1024))
        fp32 = classifier(h)
        assert torch.equal(ours(h), fp32)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            bf16 = classifier(h)
            head = ours(h.bfloat16())  # a bf16 hidden state, as under --amp
    assert 10 < fp32.max() < 20
    assert head.dtype == torch.float32

    def tie_rate(logits):
        top = logits.float().topk(6, dim=-1).values
        return (top[:, 4] == top[:, 5]).float().mean().item()

    assert tie_rate(fp32) == 0
    assert 0.08 < tie_rate(bf16) < 0.2  # about one row in seven
    assert tie_rate(head) == 0
