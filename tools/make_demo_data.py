"""Write a small EPIC-Kitchens-55-shaped dataset in the exact RU-LSTM layout.

Layout (under ``--out``, default ``data/demo``)::

    actions.csv                    id,action,verb,noun (header, as RU-LSTM)
    EPIC_verb_classes.csv          verb_id,class_key,verbs (official format)
    EPIC_noun_classes.csv          noun_id,class_key,nouns
    EPIC_many_shot_{verbs,nouns}.csv  classes at least as frequent in
                                   training as the median class
    training.csv  validation.csv   id, video, start, end, verb, noun, action
    rgb/ flow/ obj/                one LMDB each: key
                                   "{video}_frame_{frame:010d}.jpg", value
                                   raw float32

How the data carry information: each video is a sequence of actions drawn
from a Markov chain over (verb, noun) pairs in which an action is mostly
followed by actions that share its noun or verb, so several futures are
plausible (plus ``--habits`` favourite successors per action, drawn among
all actions). The feature of a frame mixes a code of the action in progress
with a code of the next action whose weight grows as its start approaches
(``exp(-dt / tau)``), plus noise: anticipating from closer is easier, and
the priors (shared verb/noun, transitions, word similarity) describe the
futures. ``rgb`` sees verb and noun, ``flow`` mostly the verb (motion),
``obj`` is a vector of noun scores (like the detector-based features).
Verb and noun names are real EK55 class keys, so GloVe priors make sense.
Like the published reduced LMDBs, only the frames of the time grid are
stored.
"""
import argparse
import os
import os.path as osp

import lmdb
import numpy as np

from lsant_mmaction.layout import TimeGrid

GRID = TimeGrid()  # the demo configs use the default grid

VERBS = ['take', 'put', 'open', 'close', 'wash', 'cut', 'mix', 'pour',
         'turn-on', 'turn-off', 'dry', 'peel']
# noun -> verbs that make sense with it (EK55 class keys)
NOUN_VERBS = {
    'tap': ['turn-on', 'turn-off'],
    'plate': ['take', 'put', 'wash', 'dry'],
    'knife': ['take', 'put', 'wash', 'dry'],
    'pan': ['take', 'put', 'wash', 'mix'],
    'pot': ['take', 'put', 'wash', 'mix'],
    'bowl': ['take', 'put', 'wash', 'mix'],
    'spoon': ['take', 'put', 'wash'],
    'lid': ['take', 'put', 'open', 'close'],
    'cup': ['take', 'put', 'wash', 'pour'],
    'fridge': ['open', 'close'],
    'drawer': ['open', 'close'],
    'cupboard': ['open', 'close'],
    'onion': ['take', 'put', 'cut', 'peel'],
    'potato': ['take', 'put', 'cut', 'peel', 'wash'],
    'tomato': ['take', 'put', 'cut', 'wash'],
    'water': ['pour'],
    'oil': ['take', 'put', 'pour'],
    'sponge': ['take', 'put'],
    'board:chopping': ['take', 'put', 'wash'],
    'bag': ['take', 'put', 'open', 'close'],
}
NOUNS = list(NOUN_VERBS)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Write the demo dataset (RU-LSTM layout).')
    parser.add_argument('--out', default='data/demo', help='output folder')
    parser.add_argument('--train-videos', type=int, default=32)
    parser.add_argument('--val-videos', type=int, default=8)
    parser.add_argument('--segments-per-video', type=int, default=40)
    parser.add_argument('--rgb-dim', type=int, default=128)
    parser.add_argument('--flow-dim', type=int, default=128)
    parser.add_argument('--noise', type=float, default=1.0,
                        help='std of the feature noise')
    parser.add_argument('--tau', type=float, default=1.0,
                        help='seconds over which the next action shows up')
    parser.add_argument('--habits', type=int, default=3,
                        help='favourite successors of each action, drawn '
                        'among all actions (0: every likely successor '
                        'shares the verb or the noun)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--also-grid', action='append', default=[], metavar='STEP:STEPS',
        help='also write the frames of this time grid (seconds between '
        "steps, number of steps), e.g. 1.0:18 for AFFT's EK100 protocol; "
        'repeat for several. Default: the default grid only')
    args = parser.parse_args()
    args.grids = [GRID]
    for value in args.also_grid:
        try:
            step, steps = value.split(':')
            args.grids.append(TimeGrid(time_step=float(step),
                                       num_steps=int(steps),
                                       num_anticipation_steps=1))
        except ValueError as e:
            parser.error(f'--also-grid {value!r}: expected STEP:STEPS, e.g. '
                         f'1.0:18 ({e})')
    return args


def vocabulary():
    """Actions as (verb id, noun id) pairs, sorted."""
    pairs = sorted((VERBS.index(v), NOUNS.index(n))
                   for n, verbs in NOUN_VERBS.items() for v in verbs)
    return np.asarray(pairs, np.int64)


def transition_matrix(pairs: np.ndarray, rng, habits: int = 3) -> np.ndarray:
    """Markov chain over actions: successors mostly share noun or verb."""
    verbs, nouns = pairs[:, 0], pairs[:, 1]
    weights = 0.05 + 6.0 * (nouns[:, None] == nouns[None, :]) + \
        1.5 * (verbs[:, None] == verbs[None, :])
    # each action also has favourite successors (habits), any action
    for a in range(len(pairs) if habits else 0):
        weights[a, rng.choice(len(pairs), habits, replace=False)] += 8.0
    np.fill_diagonal(weights, 0.05)
    return weights / weights.sum(1, keepdims=True)


def sample_videos(names, num_segments, trans, rng, first_id):
    """Segments of each video: Markov action sequence with 30 fps frames."""
    rows, seg_id = [], first_id
    for video in names:
        action = rng.integers(len(trans))
        # the first action may start before 0.25 s: padding and dropping
        start = int(rng.integers(2, 150))
        for _ in range(num_segments):
            length = int(rng.integers(30, 120))
            rows.append((seg_id, video, start, start + length, action))
            seg_id += 1
            start += length + int(rng.integers(15, 150))
            action = rng.choice(len(trans), p=trans[action])
    return rows


def write_segments(path, rows, pairs):
    with open(path, 'w') as f:
        for seg_id, video, start, end, action in rows:
            verb, noun = pairs[action]
            f.write(f'{seg_id:05d}, {video}, {start:010d}, {end:010d}, '
                    f'{verb:03d}, {noun:03d}, {action:04d}\n')


def write_vocabulary(out, pairs):
    with open(osp.join(out, 'actions.csv'), 'w') as f:
        f.write('id,action,verb,noun\n')
        for a, (v, n) in enumerate(pairs):
            f.write(f'{a}, {VERBS[v]}_{NOUNS[n]},{v},{n}\n')
    for kind, names in (('verb', VERBS), ('noun', NOUNS)):
        with open(osp.join(out, f'EPIC_{kind}_classes.csv'), 'w') as f:
            f.write(f'{kind}_id,class_key,{kind}s\n')
            for i, name in enumerate(names):
                f.write(f'{i},{name},"[\'{name}\']"\n')


def write_many_shot(out, train, pairs):
    """Many-shot verbs and nouns: at least as frequent as the median."""
    actions = np.array([row[4] for row in train])
    for kind, column, names in (('verb', 0, VERBS), ('noun', 1, NOUNS)):
        counts = np.bincount(pairs[actions, column], minlength=len(names))
        many = np.nonzero(counts >= np.median(counts))[0]
        with open(osp.join(out, f'EPIC_many_shot_{kind}s.csv'), 'w') as f:
            f.write(f'{kind}_class,{kind}\n')
            for c in many:
                f.write(f'{c},{names[c]}\n')


def frame_features(rows, pairs, codes, args, rng):
    """``{(video, frame): {modality: vector}}`` for every frame of the
    grids."""
    by_video = {}
    for row in rows:
        by_video.setdefault(row[1], []).append(row)
    feats = {}
    for video, segs in by_video.items():
        starts = np.array([s[2] for s in segs])
        for seg, grid in [(s, g) for s in segs for g in args.grids]:
            frames = grid.frame_indices(seg[2])
            if frames is None:
                continue
            for frame in frames.tolist():
                if (video, frame) in feats:
                    continue
                nxt = int(np.searchsorted(starts, frame, side='right'))
                cur = segs[nxt - 1][4] if nxt > 0 else None
                nxt_action = segs[nxt][4] if nxt < len(segs) else None
                dt = (starts[nxt] - frame) / GRID.fps if nxt < len(segs) else 1e9
                w = np.exp(-dt / args.tau)
                feats[(video, frame)] = {
                    m: mix(code, pairs, cur, nxt_action, w, args.noise, rng)
                    for m, code in codes.items()
                }
    return feats


def mix(code, pairs, cur, nxt, w, noise, rng):
    """Feature = code(current) + w * code(next) + noise."""
    verb_code, noun_code = code
    x = noise * rng.standard_normal(verb_code.shape[1]).astype(np.float32)
    if cur is not None:
        x += verb_code[pairs[cur][0]] + noun_code[pairs[cur][1]]
    if nxt is not None:
        x += 2.5 * w * (verb_code[pairs[nxt][0]] + noun_code[pairs[nxt][1]])
    return x.astype(np.float32)


def modality_codes(args, rng):
    """Per-modality codes of verbs and nouns: ``(V, D)`` and ``(N, D)``."""

    def gauss(n, d, scale):
        return (scale * rng.standard_normal((n, d)) /
                np.sqrt(d / 16)).astype(np.float32)

    eye = np.eye(len(NOUNS), dtype=np.float32)
    return {
        'rgb': (gauss(len(VERBS), args.rgb_dim, 1.0),
                gauss(len(NOUNS), args.rgb_dim, 1.0)),
        'flow': (gauss(len(VERBS), args.flow_dim, 1.5),
                 gauss(len(NOUNS), args.flow_dim, 0.3)),
        # noun scores, like the object-detector features of RU-LSTM
        'obj': (np.zeros((len(VERBS), len(NOUNS)), np.float32), 2.0 * eye),
    }


def write_lmdbs(out, feats):
    for modality in ('rgb', 'flow', 'obj'):
        path = osp.join(out, modality)
        size = sum(v[modality].nbytes + 64 for v in feats.values())
        env = lmdb.open(path, map_size=max(4 * size, 1 << 24))
        with env.begin(write=True) as txn:
            for (video, frame), value in sorted(feats.items()):
                key = f'{video}_frame_{frame:010d}.jpg'.encode()
                txn.put(key, value[modality].tobytes())
        env.close()


def main():
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    pairs = vocabulary()
    trans = transition_matrix(pairs, rng, args.habits)
    train = sample_videos([f'D01_{i + 1:02d}' for i in range(args.train_videos)],
                          args.segments_per_video, trans, rng, 0)
    val = sample_videos([f'D02_{i + 1:02d}' for i in range(args.val_videos)],
                        args.segments_per_video, trans, rng, len(train))
    write_vocabulary(args.out, pairs)
    write_many_shot(args.out, train, pairs)
    write_segments(osp.join(args.out, 'training.csv'), train, pairs)
    write_segments(osp.join(args.out, 'validation.csv'), val, pairs)
    feats = frame_features(train + val, pairs, modality_codes(args, rng), args,
                           rng)
    write_lmdbs(args.out, feats)
    print(f'demo data in {args.out}: {len(pairs)} actions '
          f'({len(VERBS)} verbs, {len(NOUNS)} nouns), {len(train)} training '
          f'and {len(val)} validation segments, {len(feats)} frames per '
          f'modality (rgb {args.rgb_dim}, flow {args.flow_dim}, obj '
          f'{len(NOUNS)} dims)')


if __name__ == '__main__':
    main()
