import pytest
import torch

from mmaction.registry import MODELS

from .rulstm_oracle import OracleFusion, OracleRULSTM

D, H, C = 6, 10, 7


def rulstm_head(num_steps=8, scp=False, unroll_dropout='independent',
                dropout=0.8):
    return MODELS.build(
        dict(type='RULSTMHead', num_classes=C, in_channels=D,
             modalities=('rgb', ), hidden_channels=H, dropout=dropout,
             sequence_completion=scp, unroll_dropout=unroll_dropout,
             num_anticipation_steps=num_steps))


def oracle_like(head, scp=False, dropout=0.8):
    oracle = OracleRULSTM(C, D, H, dropout, sequence_completion=scp)
    oracle.load_state_dict(head.branch.state_dict())
    return oracle


@pytest.mark.parametrize('scp', [False, True])
@pytest.mark.parametrize('batch', [1, 5])
def test_eval_outputs_equal_the_oracle(scp, batch):
    torch.manual_seed(batch)
    head = rulstm_head(scp=scp).eval()
    oracle = oracle_like(head, scp).eval()
    x = torch.randn(batch, 14, D)
    with torch.no_grad():
        ours = head(dict(rgb=x))
        ref, ref_context = oracle(x)
        _, context = head.branch(x, 8)
    assert ours.shape == (batch, 8, C)
    torch.testing.assert_close(ours, ref[:, -8:], atol=1e-5, rtol=0)
    torch.testing.assert_close(context, ref_context[:, -8:], atol=1e-5,
                               rtol=0)


@pytest.mark.parametrize('scp', [False, True])
def test_all_14_steps_equal_the_oracle(scp):
    torch.manual_seed(0)
    head = rulstm_head(num_steps=14, scp=scp).eval()
    x = torch.randn(3, 14, D)
    with torch.no_grad():
        torch.testing.assert_close(head(dict(rgb=x)),
                                   oracle_like(head, scp).eval()(x)[0],
                                   atol=1e-5, rtol=0)


def test_training_mode_without_dropout_equals_the_oracle():
    torch.manual_seed(0)
    head = rulstm_head(dropout=0.0).train()
    oracle = oracle_like(head, dropout=0.0).train()
    x = torch.randn(4, 14, D, requires_grad=True)
    ours = head(dict(rgb=x))
    ref = oracle(x)[0][:, -8:]
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    # same gradients too
    g_ours = torch.autograd.grad(ours.square().sum(), x)[0]
    g_ref = torch.autograd.grad(ref.square().sum(), x)[0]
    torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('mode', ['independent', 'shared'])
def test_training_mode_dropout(mode):
    torch.manual_seed(0)
    head = rulstm_head(unroll_dropout=mode).train()
    x = torch.randn(4, 14, D)
    a, b = head(dict(rgb=x)), head(dict(rgb=x))
    assert a.shape == (4, 8, C) and not torch.equal(a, b)  # masks resampled
    a.sum().backward()
    assert head.branch.unrolling_lstm.weight_hh_l0.grad.abs().sum() > 0
    assert head.branch.rolling_lstm.lstm.weight_ih_l0.grad.abs().sum() > 0


def test_independent_masks_per_replicated_input():
    """Each copy of the repeated unrolling input is dropped on its own."""
    torch.manual_seed(0)
    branch = rulstm_head().branch.train()
    x = torch.randn(2, 14, D)
    plan = branch.unrolling_plan(14, 8)
    # lengths 9 .. 2 (T - t + 1 for t = 6 .. 13)
    assert [len(p) for p in plan] == [8, 8, 7, 6, 5, 4, 3, 2, 1]
    assert plan[0] == list(range(6, 14))
    torch.manual_seed(1)
    independent = branch._unrolling_projections(x, plan)
    branch.unroll_dropout = 'shared'
    torch.manual_seed(1)
    shared = branch._unrolling_projections(x, plan)
    # unrolling 0 (t=6) is fed x[6] at steps 0 and 1: the same projection
    # with a shared mask, different ones with independent masks
    rows = slice(0, 2)
    assert torch.equal(shared[0][rows], shared[1][rows])
    assert not torch.equal(independent[0][rows], independent[1][rows])


def test_sequence_completion_plan_reads_future_inputs():
    branch = rulstm_head(scp=True).branch
    plan = branch.unrolling_plan(14, 8)
    assert plan[0] == list(range(6, 14)) and plan[1] == list(range(7, 14))
    assert plan[-1] == [13]


def fusion_head(modal_dims, num_steps=8):
    return MODELS.build(
        dict(type='MATTFusionHead', num_classes=C,
             modalities=tuple(modal_dims),
             branches={m: dict(type='RollingUnrollingLSTM', in_channels=d,
                               hidden_channels=H)
                       for m, d in modal_dims.items()},
             num_anticipation_steps=num_steps))


@pytest.mark.parametrize('dims', [dict(rgb=6, flow=5, obj=4),
                                  dict(rgb=6, flow=5)])
def test_fusion_shapes_weights_and_oracle(dims):
    torch.manual_seed(0)
    head = fusion_head(dims).eval()
    feats = {m: torch.randn(3, 14, d) for m, d in dims.items()}
    with torch.no_grad():
        fused, weights = head.forward_with_weights(feats)
    assert fused.shape == (3, 8, C) and weights.shape == (3, 8, len(dims))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 8))
    oracle = OracleFusion(
        [OracleRULSTM(C, d, H) for d in dims.values()], H).eval()
    state = {k.replace('matt.', 'MATT.'): v
             for k, v in head.state_dict().items()}
    oracle.load_state_dict(state)
    with torch.no_grad():
        ref, ref_weights = oracle(list(feats.values()))
    torch.testing.assert_close(fused, ref[:, -8:], atol=1e-5, rtol=0)
    torch.testing.assert_close(weights, ref_weights[:, -8:], atol=1e-5,
                               rtol=0)


def test_fusion_of_lstm_baselines():
    head = MODELS.build(
        dict(type='MATTFusionHead', num_classes=C, modalities=('rgb', 'obj'),
             branches=dict(
                 rgb=dict(type='AnticipationLSTM', in_channels=6,
                          hidden_channels=H),
                 obj=dict(type='AnticipationLSTM', in_channels=4,
                          hidden_channels=H))))
    out = head(dict(rgb=torch.randn(2, 14, 6), obj=torch.randn(2, 14, 4)))
    assert out.shape == (2, 8, C)


def test_fusion_bad_inputs():
    with pytest.raises(ValueError, match="missing \\['obj'\\]"):
        MODELS.build(dict(type='MATTFusionHead', num_classes=C,
                          modalities=('rgb', 'obj'),
                          branches=dict(rgb=dict(type='RollingUnrollingLSTM',
                                                 in_channels=6))))
    head = fusion_head(dict(rgb=6, flow=5))
    with pytest.raises(ValueError, match='flow features have 4 channels'):
        head(dict(rgb=torch.randn(1, 14, 6), flow=torch.randn(1, 14, 4)))


def test_fusion_branch_checkpoint_that_does_not_fit_is_an_error(tmp_path):
    """A branch pointed at another modality's stage-2 checkpoint (other
    input size) must not start half random without a word."""
    src = MODELS.build(dict(type='RollingUnrollingLSTM', in_channels=128,
                            hidden_channels=32, num_classes=5))
    ckpt = str(tmp_path / 'rgb_best.pth')
    torch.save({'state_dict': {'cls_head.branch.' + k: v
                               for k, v in src.state_dict().items()}}, ckpt)

    def fusion(in_channels):
        return MODELS.build(dict(
            type='MATTFusionHead', num_classes=5, modalities=('obj', ),
            branches=dict(obj=dict(
                type='RollingUnrollingLSTM', in_channels=in_channels,
                hidden_channels=32, init_cfg=dict(
                    type='Pretrained', checkpoint=ckpt,
                    prefix='cls_head.branch.')))))

    head = fusion(128)  # fits: every branch tensor from the checkpoint
    head.init_weights()
    for key, value in src.state_dict().items():
        torch.testing.assert_close(head.branches[0].state_dict()[key], value)
    with pytest.raises(RuntimeError, match=f"the pretrained weights "
                       f"'{ckpt}' did not set .* tensors of "
                       'RollingUnrollingLSTM'):
        fusion(20).init_weights()
