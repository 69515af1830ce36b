r"""Convert an official RU-LSTM checkpoint for ``tools/test.py``.

Official checkpoints (fpv-iplab/rulstm) are ``{'state_dict', 'epoch',
'perf', 'best_perf'}`` with names such as ``rolling_lstm.lstm.weight_ih_l0``,
``unrolling_lstm.*``, ``classifier.1.*`` (one branch) or ``branches.{i}.*``
and ``MATT.{0,3,6}.*`` (fusion). They become mmengine checkpoints of an
``Anticipator`` with a ``RULSTMHead`` (``cls_head.branch.*``) or a
``MATTFusionHead`` (``cls_head.branches.{i}.*``, ``cls_head.matt.*``)::

    python tools/convert_rulstm_checkpoint.py \
        RULSTM-anticipation_0.25_6_8_fusion_best.pth.tar fusion.pth \
        --config configs/rulstm_epic_glvn.py

With ``--config`` the result is checked against the model the config
builds: branch count, parameter names and sizes must all match.
"""
import argparse
import os
import re

import torch

SINGLE = re.compile(r'^(rolling_lstm\.lstm|unrolling_lstm|classifier\.1)\.')
FUSION_BRANCH = re.compile(r'^branches\.(\d+)\.(.+)$')
FUSION_MATT = re.compile(r'^MATT\.(\d+)\.(.+)$')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert an official RU-LSTM checkpoint')
    parser.add_argument('src', help='official checkpoint (.pth.tar)')
    parser.add_argument('dst', help='converted checkpoint (.pth)')
    parser.add_argument(
        '--config', help='config to check the converted weights against')
    return parser.parse_args()


def convert_state_dict(state_dict: dict, src: str) -> dict:
    """Rename official RU-LSTM parameters to the plugin's."""
    fusion = any(k.startswith(('branches.', 'MATT.')) for k in state_dict)
    out = {}
    for key, value in state_dict.items():
        if fusion:
            branch, matt = FUSION_BRANCH.match(key), FUSION_MATT.match(key)
            if branch and SINGLE.match(branch.group(2)):
                new = f'cls_head.branches.{branch.group(1)}.{branch.group(2)}'
            elif matt:
                new = f'cls_head.matt.{matt.group(1)}.{matt.group(2)}'
            else:
                new = None
        else:
            new = f'cls_head.branch.{key}' if SINGLE.match(key) else None
        if new is None:
            raise ValueError(f'{src}: unexpected parameter {key!r} for an '
                             'RU-LSTM checkpoint')
        out[new] = value
    return out


def check_against_config(state_dict: dict, config: str, src: str) -> None:
    """Fail when the converted weights do not fit the config's model."""
    import lsant_mmaction  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    expected = {
        k: v.shape
        for k, v in model.state_dict().items() if not k.endswith('.prior')
    }
    head = model.cls_head
    ours = len(getattr(head, 'branches', [None]))
    theirs = len({k.split('.')[2] for k in state_dict
                  if k.startswith('cls_head.branches.')}) or 1
    if ours != theirs:
        raise ValueError(f'{src} has {theirs} branch(es), the model of '
                         f'{config} has {ours}')
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = [f'{k}: checkpoint {tuple(state_dict[k].shape)}, model '
             f'{tuple(expected[k])}' for k in sorted(set(expected)
                                                    & set(state_dict))
             if state_dict[k].shape != expected[k]]
    if missing or unexpected or wrong:
        raise ValueError(
            f'{src} does not match the model of {config}:\n'
            f'  missing: {missing}\n  unexpected: {unexpected}\n'
            f'  size mismatch: {wrong}')


def _plain(value):
    """A number of the official checkpoint (a numpy scalar: RU-LSTM's
    ``main.py`` saves its accuracies so) as a plain Python number."""
    return value.item() if hasattr(value, 'item') else value


def main():
    args = parse_args()
    from lsant_mmaction.engine.checkpoint import read_checkpoint
    checkpoint = read_checkpoint(args.src)  # errors name the file
    if 'state_dict' not in checkpoint:
        raise ValueError(f'{args.src}: not an RU-LSTM checkpoint (no '
                         "'state_dict')")
    state_dict = convert_state_dict(checkpoint['state_dict'], args.src)
    if args.config:
        check_against_config(state_dict, args.config, args.src)
    meta = dict(
        converted_from=os.path.abspath(args.src),
        epoch=checkpoint.get('epoch'),
        rulstm_perf=_plain(checkpoint.get('perf')),
        rulstm_best_perf=_plain(checkpoint.get('best_perf')))
    torch.save(dict(meta=meta, state_dict=state_dict), args.dst)
    kind = 'fusion' if any('branches' in k for k in state_dict) else \
        'single-branch'
    print(f'{args.src} ({kind}, epoch {meta["epoch"]}, perf '
          f'{meta["rulstm_perf"]}) -> {args.dst}: {len(state_dict)} tensors')


if __name__ == '__main__':
    main()
