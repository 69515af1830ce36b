"""tools/convert_afft_checkpoint.py: a checkpoint in the official AFFT
layout (names and shapes of zeyun-zhong/AFFT's ``BaseModel`` with
``CMFPEarly``, ``ModalTokenCMFuser``, ``Linear(sparse_mapping=True)``,
``BaseFuturePredictor`` on ``transformers.GPT2Model`` 4.18, shared
classifiers), random weights, tiny sizes, converted and loaded into the
AFFTHead of a config, gives the outputs of the plain re-implementation of
the official forward below (``official_forward``, written from the official
code: explicit attention with GPT-2's -1e4 mask value, GPT-2's gelu_new,
hand-written LayerNorms) to 2e-5 (float32)."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmaction.registry import MODELS

from ..conftest import ROOT, load_tool

CONVERT = osp.join(ROOT, 'tools', 'convert_afft_checkpoint.py')
# official sizes, tiny: common_dim D, fp_inter_dim E, n_positions P
D, E, P, LAYERS, HEADS, DEPTH, FUSER_HEADS, C, V, N = (8, 16, 32, 2, 2, 2,
                                                       2, 7, 3, 4)
OFFICIAL_DIMS = dict(rgb=8, objects=5, flow=8)  # rgb, flow: identities
OFFICIAL_ORDER = ('rgb', 'objects', 'flow')  # AFFT's modal_feature_order
OURS = dict(rgb='rgb', objects='obj', flow='flow')
ACTIONS = [(0, 0), (0, 1), (1, 2), (1, 3), (2, 0), (2, 1), (0, 3)]  # (v, n)
TOL = dict(rtol=2e-5, atol=2e-5)

CONFIG = f"""
custom_imports = dict(imports=['lsant_mmaction'], allow_failed_imports=False)
model = dict(
    type='Anticipator',
    modalities=('rgb', 'flow', 'obj'),
    cls_head=dict(
        type='AFFTHead',
        num_classes={{classes}},
        modality_channels=dict(rgb=8, flow=8, obj=5),
        fusion_channels={D},
        fuser=dict(type='ModalityTokenFuser', depth={DEPTH},
                   num_heads={FUSER_HEADS}),
        transformer=dict(type='CausalTransformer', channels={E},
                         num_layers={LAYERS}, num_heads={HEADS},
                         max_steps={P}),
        num_anticipation_steps={{steps}},
        feat_loss_weight=1.0,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.4,
                      prior='uniform', num_classes={{classes}})))
"""


def official_state_dict():
    """Random weights under the official names and shapes."""
    g = torch.Generator().manual_seed(0)

    def r(*shape, scale=0.3):
        return torch.randn(*shape, generator=g) * scale

    fp, sd = 'future_predictor.', {}
    sd[fp + 'mapping.objects.mapping.0.weight'] = r(D, 5)
    sd[fp + 'fuser.modal_token'] = r(1, 1, D)
    for i in range(DEPTH):
        b = f'{fp}fuser.blocks.{i}.'
        for norm in ('norm1', 'norm2'):
            sd[f'{b}{norm}.weight'] = 1 + r(D, scale=0.1)
            sd[f'{b}{norm}.bias'] = r(D, scale=0.1)
        sd[b + 'attn.qkv.weight'] = r(3 * D, D)  # qkv_bias=False
        sd[b + 'attn.proj.weight'] = r(D, D)
        sd[b + 'attn.proj.bias'] = r(D)
        sd[b + 'mlp.mlp.0.weight'] = r(4 * D, D)
        sd[b + 'mlp.mlp.0.bias'] = r(4 * D)
        sd[b + 'mlp.mlp.2.weight'] = r(D, 4 * D)
        sd[b + 'mlp.mlp.2.bias'] = r(D)
    sd[fp + 'fuser.norm.weight'] = 1 + r(D, scale=0.1)
    sd[fp + 'fuser.norm.bias'] = r(D, scale=0.1)
    sd[fp + 'dim_encoder.weight'] = r(E, D)
    sd[fp + 'dim_decoder.weight'] = r(D, E)
    gpt = fp + 'future_predictor.gpt_model.'
    sd[gpt + 'wpe.weight'] = r(P, E)
    for i in range(LAYERS):
        h = f'{gpt}h.{i}.'
        for norm in ('ln_1', 'ln_2'):
            sd[f'{h}{norm}.weight'] = 1 + r(E, scale=0.1)
            sd[f'{h}{norm}.bias'] = r(E, scale=0.1)
        sd[h + 'attn.bias'] = torch.tril(torch.ones(
            (P, P), dtype=torch.uint8)).view(1, 1, P, P)
        sd[h + 'attn.masked_bias'] = torch.tensor(-1e4)
        sd[h + 'attn.c_attn.weight'] = r(E, 3 * E)  # Conv1D: (in, out)
        sd[h + 'attn.c_attn.bias'] = r(3 * E)
        sd[h + 'attn.c_proj.weight'] = r(E, E)
        sd[h + 'attn.c_proj.bias'] = r(E)
        sd[h + 'mlp.c_fc.weight'] = r(E, 4 * E)
        sd[h + 'mlp.c_fc.bias'] = r(4 * E)
        sd[h + 'mlp.c_proj.weight'] = r(4 * E, E)
        sd[h + 'mlp.c_proj.bias'] = r(E)
    sd[gpt + 'ln_f.weight'] = 1 + r(E, scale=0.1)
    sd[gpt + 'ln_f.bias'] = r(E, scale=0.1)
    sd[fp + 'classifiers.action.all-fused.1.weight'] = r(C, D)
    sd[fp + 'classifiers.action.all-fused.1.bias'] = r(C)
    verbs, nouns = torch.zeros(C, V), torch.zeros(C, N)
    for a, (v, n) in enumerate(ACTIONS):
        verbs[a, v] = nouns[a, n] = 1
    sd['cls_map_verb_action'] = verbs
    sd['cls_map_noun_action'] = nouns
    return sd


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean)**2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def official_forward(sd, feats):
    """AFFT's CMFPEarly forward in eval mode, on the official names:
    returns the future logits ``(B, 1, C)``, the past logits ``(B, T, C)``
    and the past regression loss."""
    fp = 'future_predictor.'
    x = {}
    for m in OFFICIAL_ORDER:  # feature_mapping: Linear(bias=False) or id
        key = f'{fp}mapping.{m}.mapping.0.weight'
        x[m] = feats[m] @ sd[key].T if key in sd else feats[m]
    b, t, d = x['rgb'].shape
    tokens = torch.cat([x[m].reshape(b * t, 1, d) for m in OFFICIAL_ORDER],
                       dim=1)
    tokens = torch.cat([sd[fp + 'fuser.modal_token'].expand(b * t, -1, -1),
                        tokens], dim=1)  # (B*T, 1 + n, D)
    n = tokens.shape[1]
    for i in range(DEPTH):  # timm Block
        p = f'{fp}fuser.blocks.{i}.'
        h = layer_norm(tokens, sd[p + 'norm1.weight'], sd[p + 'norm1.bias'],
                       1e-6)
        qkv = (h @ sd[p + 'attn.qkv.weight'].T).reshape(
            b * t, n, 3, FUSER_HEADS, d // FUSER_HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) *
                (d // FUSER_HEADS)**-0.5).softmax(-1)
        a = (attn @ v).transpose(1, 2).reshape(b * t, n, d)
        tokens = tokens + a @ sd[p + 'attn.proj.weight'].T + sd[
            p + 'attn.proj.bias']
        h = layer_norm(tokens, sd[p + 'norm2.weight'], sd[p + 'norm2.bias'],
                       1e-6)
        h = torch.nn.functional.gelu(h @ sd[p + 'mlp.mlp.0.weight'].T +
                                     sd[p + 'mlp.mlp.0.bias'])
        tokens = tokens + h @ sd[p + 'mlp.mlp.2.weight'].T + sd[
            p + 'mlp.mlp.2.bias']
    tokens = layer_norm(tokens, sd[fp + 'fuser.norm.weight'],
                        sd[fp + 'fuser.norm.bias'], 1e-6)
    z = tokens[:, 0, :].view(-1, t, d)  # fused features (B, T, D)
    g = fp + 'future_predictor.gpt_model.'
    hs = z @ sd[fp + 'dim_encoder.weight'].T
    hs = hs + sd[g + 'wpe.weight'][torch.arange(t)]  # position_ids 0..T-1
    heads, e = HEADS, hs.shape[-1]
    for i in range(LAYERS):  # GPT2Block
        p = f'{g}h.{i}.'
        h = layer_norm(hs, sd[p + 'ln_1.weight'], sd[p + 'ln_1.bias'], 1e-5)
        qkv = h @ sd[p + 'attn.c_attn.weight'] + sd[p + 'attn.c_attn.bias']
        q, k, v = (y.view(b, t, heads, e // heads).permute(0, 2, 1, 3)
                   for y in qkv.split(e, dim=2))
        w = (q @ k.transpose(-1, -2)) / (e // heads)**0.5
        causal = sd[p + 'attn.bias'][:, :, :t, :t].bool()
        w = torch.where(causal, w, sd[p + 'attn.masked_bias'].to(w.dtype))
        a = (w.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(b, t, e)
        hs = hs + a @ sd[p + 'attn.c_proj.weight'] + sd[p + 'attn.c_proj.bias']
        h = layer_norm(hs, sd[p + 'ln_2.weight'], sd[p + 'ln_2.bias'], 1e-5)
        h = gelu_new(h @ sd[p + 'mlp.c_fc.weight'] + sd[p + 'mlp.c_fc.bias'])
        hs = hs + h @ sd[p + 'mlp.c_proj.weight'] + sd[p + 'mlp.c_proj.bias']
    hs = layer_norm(hs, sd[g + 'ln_f.weight'], sd[g + 'ln_f.bias'], 1e-5)
    z_hat = hs @ sd[fp + 'dim_decoder.weight'].T
    # prepare_output + apply_classifier
    past_futures = torch.cat([z[:, :1], z_hat[:, :t - 1]], dim=1)
    w_cls = sd[fp + 'classifiers.action.all-fused.1.weight']
    b_cls = sd[fp + 'classifiers.action.all-fused.1.bias']
    future = z_hat[:, t - 1:] @ w_cls.T + b_cls
    past = past_futures @ w_cls.T + b_cls
    reg = ((past_futures[:, 1:] - z[:, 1:])**2).mean()  # runner: past_reg
    return future, past, reg


def write_official(path, state=None, **extra):
    checkpoint = dict(model=official_state_dict() if state is None else
                      state, epoch=12, optimizer=dict(state={},
                                                      param_groups=[]))
    checkpoint.update(extra)
    torch.save(checkpoint, path)
    return str(path)


def write_config(tmp_path, steps=8, classes=C):
    path = tmp_path / f'afft_tiny_{steps}_{classes}.py'
    path.write_text(CONFIG.format(steps=steps, classes=classes))
    return str(path)


def write_actions(tmp_path, actions=ACTIONS):
    path = tmp_path / 'actions.csv'
    rows = ['id,verb,noun,action'] + [
        f'{a},{v},{n},verb{v} noun{n}' for a, (v, n) in enumerate(actions)]
    path.write_text('\n'.join(rows) + '\n')
    return str(path)


def converted_model(tmp_path, steps, capsys=None):
    src = write_official(tmp_path / 'checkpoint_best.pth')
    dst = str(tmp_path / f'converted_{steps}.pth')
    config = write_config(tmp_path, steps)
    load_tool(CONVERT).main([src, dst, '--config', config, '--actions',
                             write_actions(tmp_path)])
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta']['afft_epoch'] == 12
    model = MODELS.build(Config.fromfile(config).model)
    missing, unexpected = model.load_state_dict(checkpoint['state_dict'],
                                                strict=False)
    assert missing == ['cls_head.loss_cls.prior'] and unexpected == []
    return model.eval()


def features(batch=3, steps=14):
    g = torch.Generator().manual_seed(1)
    return {m: torch.randn(batch, steps, size, generator=g)
            for m, size in OFFICIAL_DIMS.items()}


@torch.no_grad()
def test_converted_head_gives_the_official_outputs(tmp_path, capsys):
    official = official_state_dict()
    feats = features()
    future, past, reg = official_forward(official, feats)
    ours = {OURS[m]: x for m, x in feats.items()}
    # the official protocol: one output, at the last step
    model = converted_model(tmp_path, steps=1)
    out = capsys.readouterr().out
    assert "mapped modalities ['obj']" in out
    assert 'action ids checked' in out
    torch.testing.assert_close(model(ours, mode='tensor'), future, **TOL)
    # the grid: the last 8 steps' logits are the official classifier on
    # z_hat[:, 6:14]: its past logits 7..13 and its future logits
    model = converted_model(tmp_path, steps=8)
    logits = model(ours, mode='tensor')
    torch.testing.assert_close(
        logits, torch.cat([past[:, 7:], future], dim=1), **TOL)
    outputs = model.cls_head.forward_outputs(ours)
    torch.testing.assert_close(outputs['past_action'], past, **TOL)
    z, z_hat = outputs['z'], outputs['z_hat']
    torch.testing.assert_close(((z_hat[:, :-1] - z[:, 1:])**2).mean(), reg,
                               **TOL)
    # and the official forward itself is causal on the same weights
    later = {m: x.clone() for m, x in feats.items()}
    for x in later.values():
        x[:, 9:] = 0
    _, past_later, _ = official_forward(official, later)
    torch.testing.assert_close(past_later[:, :10], past[:, :10])


def test_refuses_what_it_cannot_map(tmp_path):
    convert = load_tool(CONVERT)
    dst = str(tmp_path / 'out.pth')
    variant = official_state_dict()  # modality-level classifiers
    variant['future_predictor.classifiers.action.rgb.1.weight'] = \
        torch.zeros(C, D)
    with pytest.raises(ValueError, match='no place for.*classifiers\\.'
                       'action\\.rgb'):
        convert.main([write_official(tmp_path / 'v.pth', variant), dst])
    leaky = official_state_dict()
    leaky['future_predictor.future_predictor.gpt_model.h.1.attn.bias'] = \
        torch.ones(1, 1, P, P, dtype=torch.uint8)
    with pytest.raises(ValueError, match='h.1.attn.bias is not the causal'):
        convert.main([write_official(tmp_path / 'l.pth', leaky), dst])
    torch.save(dict(state_dict={}), tmp_path / 'other.pth')
    with pytest.raises(ValueError, match="not an AFFT checkpoint"):
        convert.main([str(tmp_path / 'other.pth'), dst])
    src = write_official(tmp_path / 'ok.pth')
    swapped = [ACTIONS[1], ACTIONS[0]] + ACTIONS[2:]
    with pytest.raises(ValueError, match='nouns of 2 actions differ.*'
                       r'\[0, 1\].*numbers its actions differently'):
        convert.main([src, dst, '--actions', write_actions(tmp_path,
                                                           swapped)])
    with pytest.raises(ValueError, match='(?s)does not fit the model.*'
                       'shape mismatch'):
        convert.main([src, dst, '--config', write_config(tmp_path,
                                                         classes=9)])
    assert not osp.exists(dst)  # nothing left that does not fit
