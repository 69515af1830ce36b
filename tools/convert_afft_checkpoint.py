"""Convert an official AFFT checkpoint for ``tools/test.py``.

Official checkpoints (zeyun-zhong/AFFT, ``train.py: store_checkpoint``) are
``{'model', 'optimizer', 'lr_scheduler', 'epoch'}``; ``model`` is the state
dict of AFFT's ``BaseModel`` with the early-fusion future predictor
(``CMFPEarly``), the SA-Fuser (``ModalTokenCMFuser``), linear mappings and
shared classifiers: the EK100 model zoo's ``fusion_ek100_tsn_wo_audio_4h_18s``
(``expts/01_SA-Fuser_ek100_val_TSN_wo_audio.txt``). It becomes an mmengine
checkpoint of an ``Anticipator`` with an ``AFFTHead``::

    python tools/convert_afft_checkpoint.py \\
        fusion_ek100_tsn_wo_audio_4h_18s/checkpoint_best.pth afft_ek100.pth \\
        --config configs/afft_ek100_onehot.py \\
        --actions data/ek100/actions.csv

Names (official ``future_predictor.`` prefix left out -> ``cls_head.``):

- ``mapping.{m}.mapping.0.weight`` -> ``mapping.{m}.weight`` (``objects`` ->
  ``obj``, see ``--modality``); rgb and flow (1024, the common size) are
  identities in the official model and have no weights, so the checkpoint
  does not say whether they were used: take the checkpoint that matches the
  config's modalities (the one without audio for rgb+flow+obj).
- ``fuser.modal_token`` -> ``fuser.token``; ``fuser.blocks.{i}.{norm1,norm2}``
  unchanged, ``.attn.qkv`` -> ``.qkv``, ``.attn.proj`` -> ``.proj``,
  ``.mlp.mlp.0`` / ``.mlp.mlp.2`` -> ``.fc1`` / ``.fc2``; ``fuser.norm``.
- ``dim_encoder`` / ``dim_decoder`` -> ``encoder`` / ``decoder``.
- ``future_predictor.gpt_model.wpe`` -> ``transformer.position_embedding``;
  ``.h.{i}.ln_1`` / ``.ln_2`` -> ``transformer.blocks.{i}.norm1`` /
  ``.norm2``; ``.attn.c_attn`` / ``.attn.c_proj`` -> ``.attn.qkv`` /
  ``.attn.proj``; ``.mlp.c_fc`` / ``.mlp.c_proj`` -> ``.fc1`` / ``.fc2``
  (GPT-2's ``Conv1D`` weights are ``(in, out)``: transposed); ``.ln_f`` ->
  ``transformer.norm``.
- ``classifiers.{action,verb,noun}.all-fused.1`` -> ``classifier.1``,
  ``verb_classifier.1``, ``noun_classifier.1``.

Dropped, after a check: GPT-2's constant attention buffers
``h.{i}.attn.bias`` (must be the causal lower triangle) and
``.attn.masked_bias``; the action -> verb / noun maps ``cls_map_*``
(checked against ``--actions`` when given: the same action ids). Anything
else (per-modality classifiers, other fusers, a modality embedding, mapping
LayerNorms) is another AFFT variant: an error naming the parameters. With
``--config`` the result is checked against the model the config builds
(every tensor present, of its size).
"""
import argparse
import os
import re
import sys
from typing import Dict, Optional

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

#: official -> plugin names, tried in order; ``{i}`` groups are kept
RULES = (
    (r'mapping\.(\w+)\.mapping\.0\.weight', 'mapping.{m}.weight'),
    (r'fuser\.modal_token', 'fuser.token'),
    (r'fuser\.blocks\.(\d+)\.(norm1|norm2)\.(weight|bias)',
     'fuser.blocks.{0}.{1}.{2}'),
    (r'fuser\.blocks\.(\d+)\.attn\.(qkv|proj)\.(weight|bias)',
     'fuser.blocks.{0}.{1}.{2}'),
    (r'fuser\.blocks\.(\d+)\.mlp\.mlp\.0\.(weight|bias)',
     'fuser.blocks.{0}.fc1.{1}'),
    (r'fuser\.blocks\.(\d+)\.mlp\.mlp\.2\.(weight|bias)',
     'fuser.blocks.{0}.fc2.{1}'),
    (r'fuser\.norm\.(weight|bias)', 'fuser.norm.{0}'),
    (r'dim_encoder\.weight', 'encoder.weight'),
    (r'dim_decoder\.weight', 'decoder.weight'),
    (r'future_predictor\.gpt_model\.wpe\.weight',
     'transformer.position_embedding.weight'),
    (r'future_predictor\.gpt_model\.h\.(\d+)\.ln_1\.(weight|bias)',
     'transformer.blocks.{0}.norm1.{1}'),
    (r'future_predictor\.gpt_model\.h\.(\d+)\.ln_2\.(weight|bias)',
     'transformer.blocks.{0}.norm2.{1}'),
    (r'future_predictor\.gpt_model\.h\.(\d+)\.attn\.c_attn\.(weight|bias)',
     'transformer.blocks.{0}.attn.qkv.{1}'),
    (r'future_predictor\.gpt_model\.h\.(\d+)\.attn\.c_proj\.(weight|bias)',
     'transformer.blocks.{0}.attn.proj.{1}'),
    (r'future_predictor\.gpt_model\.h\.(\d+)\.mlp\.c_fc\.(weight|bias)',
     'transformer.blocks.{0}.fc1.{1}'),
    (r'future_predictor\.gpt_model\.h\.(\d+)\.mlp\.c_proj\.(weight|bias)',
     'transformer.blocks.{0}.fc2.{1}'),
    (r'future_predictor\.gpt_model\.ln_f\.(weight|bias)',
     'transformer.norm.{0}'),
    (r'classifiers\.action\.all-fused\.1\.(weight|bias)', 'classifier.1.{0}'),
    (r'classifiers\.(verb|noun)\.all-fused\.1\.(weight|bias)',
     '{0}_classifier.1.{1}'),
)
#: GPT-2 ``Conv1D`` weights, stored ``(in, out)``
CONV1D = re.compile(r'future_predictor\.gpt_model\.h\.\d+\.'
                    r'(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)'
                    r'\.weight$')
GPT2_MASK = re.compile(
    r'future_predictor\.gpt_model\.h\.\d+\.attn\.(bias|masked_bias)')
CLASS_MAP = re.compile(r'cls_map_(verb|noun)_action')
PREFIX = 'future_predictor.'
DEFAULT_MODALITIES = dict(rgb='rgb', flow='flow', objects='obj', audio='audio')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official AFFT checkpoint')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='converted checkpoint (.pth)')
    parser.add_argument(
        '--config', help='config to check the converted weights against')
    parser.add_argument(
        '--actions', help="RU-LSTM actions.csv to check the checkpoint's "
        'action -> verb / noun maps against (same action ids)')
    parser.add_argument(
        '--dataset', default='epic100', choices=('epic100', 'epic55',
                                                 'egtea'),
        help='format of --actions. Defaults to epic100')
    parser.add_argument(
        '--modality', action='append', default=[], metavar='OFFICIAL=OURS',
        help='modality name map (default rgb=rgb flow=flow objects=obj '
        'audio=audio); repeat for several')
    return parser.parse_args(argv)


def modality_names(pairs) -> Dict[str, str]:
    names = dict(DEFAULT_MODALITIES)
    for pair in pairs:
        if '=' not in pair:
            raise ValueError(f'--modality {pair!r}: expected OFFICIAL=OURS')
        official, ours = pair.split('=', 1)
        names[official] = ours
    return names


def official_state_dict(checkpoint: dict, src: str) -> Dict[str,
                                                            torch.Tensor]:
    """The model weights of an official checkpoint (``model``, as
    AFFT's ``train.py: init_model`` reads, or ``model_state``), without a
    ``module.`` prefix."""
    for key in ('model', 'model_state'):
        if key in checkpoint:
            state = checkpoint[key]
            break
    else:
        raise ValueError(f"{src}: not an AFFT checkpoint (no 'model'; keys "
                         f'{sorted(checkpoint)[:10]})')
    if not isinstance(state, dict) or not all(
            torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{src}: 'model' is not a state dict of tensors")
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()}


def check_causal_mask(key: str, value: torch.Tensor, src: str) -> None:
    """GPT-2's ``attn.bias`` must be the causal lower triangle (the head's
    attention is causal by construction) and ``masked_bias`` large and
    negative (GPT-2 fills the masked logits with it)."""
    if key.endswith('masked_bias'):
        if value.numel() != 1 or float(value) > -1e3:
            raise ValueError(f'{src}: {key} = {value.tolist()} is not the '
                             'GPT-2 mask value (-1e4)')
        return
    size = value.shape[-1]
    causal = torch.ones(size, size).tril().bool()
    if value.shape[-2:] != (size, size) or not torch.equal(
            value.reshape(size, size).bool(), causal):
        raise ValueError(f'{src}: {key} is not the causal (lower '
                         'triangular) attention mask')


def check_class_maps(maps: Dict[str, torch.Tensor], actions: Optional[str],
                     dataset: str, src: str) -> str:
    """Compare ``cls_map_{verb,noun}_action`` (actions x verbs / nouns,
    one 1 per row) with the verb and noun of each action of ``actions``;
    returns a note for the summary line."""
    if not maps:
        return 'no action -> verb/noun maps in the checkpoint'
    if actions is None:
        return ('action -> verb/noun maps not checked (give --actions to '
                'check the action ids)')
    from lsant_mmaction.layout import read_vocabulary
    vocab = read_vocabulary(dataset, actions)
    for name, ids in (('verb', vocab.verbs), ('noun', vocab.nouns)):
        key = f'cls_map_{name}_action'
        if key not in maps:
            continue
        m = maps[key]
        if m.shape[0] != len(ids):
            raise ValueError(f'{src}: {key} has {m.shape[0]} actions, '
                             f'{actions} has {len(ids)}')
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.max() >= m.shape[1]:
            raise ValueError(f'{src}: {key} has {m.shape[1]} {name}s, '
                             f'{actions} uses {name} {int(ids.max())}')
        expected = torch.zeros_like(m)
        expected[torch.arange(len(ids)), ids] = 1
        wrong = (m != expected).any(1).nonzero()[:, 0].tolist()
        if wrong:
            raise ValueError(
                f'{src}: the {name}s of {len(wrong)} actions differ from '
                f'{actions} (first action ids {wrong[:5]}): the checkpoint '
                'numbers its actions differently')
    return f'action ids checked against {actions}'


def rename(name: str, modalities: Dict[str, str], key: str,
           src: str) -> Optional[str]:
    """The plugin's name (under ``cls_head.``) of the official
    ``future_predictor.{name}``, or None."""
    for pattern, target in RULES:
        match = re.fullmatch(pattern, name)
        if match is None:
            continue
        if not target.startswith('mapping.'):
            return target.format(*match.groups())
        official = match.group(1)
        if official not in modalities:
            raise ValueError(f'{src}: {key}: modality {official!r} has no '
                             f'name here; give --modality {official}=NAME')
        return target.format(m=modalities[official])
    return None


def convert_state_dict(state_dict: Dict[str, torch.Tensor], src: str,
                       modalities: Optional[Dict[str, str]] = None,
                       actions: Optional[str] = None,
                       dataset: str = 'epic100'):
    """Rename official AFFT parameters to the plugin's ``cls_head.*``.

    Returns:
        tuple: the converted state dict and a note on the class maps.
    """
    modalities = modalities or dict(DEFAULT_MODALITIES)
    out, unexpected, maps = {}, [], {}
    for key, value in state_dict.items():
        name = key[len(PREFIX):] if key.startswith(PREFIX) else None
        if name and GPT2_MASK.fullmatch(name):
            check_causal_mask(key, value, src)
            continue
        if CLASS_MAP.fullmatch(key):
            maps[key] = value
            continue
        new = rename(name, modalities, key, src) if name else None
        if new is None:
            unexpected.append(key)
            continue
        if CONV1D.search(key):
            value = value.t()
        out[f'cls_head.{new}'] = value.contiguous()
    if unexpected:
        raise ValueError(
            f'{src}: parameters that the AFFTHead has no place for (another '
            f'AFFT variant: per-modality classifiers, another fuser or '
            f'mapping, a backbone?): {unexpected[:8]}'
            f'{" ..." if len(unexpected) > 8 else ""}')
    return out, check_class_maps(maps, actions, dataset, src)


def check_against_config(dst: str, config: str) -> None:
    """Fail (naming what differs) unless the converted checkpoint fits the
    model of ``config``."""
    import lsant_mmaction  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from lsant_mmaction.engine.checkpoint import check_checkpoint_fits
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    cfg = Config.fromfile(config)
    with torch.device('meta'):  # shapes only: no memory, no priors built
        model = MODELS.build(cfg.model)
    check_checkpoint_fits(model, dst)


def main(argv=None):
    args = parse_args(argv)
    from lsant_mmaction.engine.checkpoint import read_checkpoint
    checkpoint = read_checkpoint(args.src)  # errors name the file
    state = official_state_dict(checkpoint, args.src)
    state_dict, maps_note = convert_state_dict(
        state, args.src, modality_names(args.modality), args.actions,
        args.dataset)
    epoch = checkpoint.get('epoch')
    meta = dict(converted_from=os.path.abspath(args.src),
                converted_by='tools/convert_afft_checkpoint.py',
                afft_epoch=epoch.item() if hasattr(epoch, 'item') else epoch)
    torch.save(dict(meta=meta, state_dict=state_dict), args.dst)
    if args.config:
        try:
            check_against_config(args.dst, args.config)
        except Exception:
            os.remove(args.dst)  # no checkpoint that does not fit
            raise
    seen = sorted({k.split('.')[2] for k in state_dict
                   if k.startswith('cls_head.mapping.')})
    print(f'{args.src} (epoch {meta["afft_epoch"]}) -> {args.dst}: '
          f'{len(state_dict)} tensors; mapped modalities {seen} (identity '
          f'mappings leave no weights); {maps_note}')


if __name__ == '__main__':
    main()
