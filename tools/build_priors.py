r"""Build a prior matrix from annotation files and write it as ``.npy``.

Example (EK55, GL+VN with the shipped 50d vectors)::

    python tools/build_priors.py glvn --dataset epic55 \
        --actions data/ek55/actions.csv \
        --verb-classes data/ek55/EPIC_verb_classes.csv \
        --noun-classes data/ek55/EPIC_noun_classes.csv \
        --glove glove-6b-50d-classes --out work_dirs/priors/ek55_glvn.npy

Any classification dataset (no ``--dataset``): GL from a class-name list
(one name a line, line 1 = class 0), VN from a group table (CSV, key column
``id`` or ``class``, one column per kind of group), TE from a segment list
(``video start label`` a line)::

    python tools/build_priors.py gl --class-names data/my_videos/classes.txt \
        --glove glove-6b-50d-classes --out work_dirs/priors/my_gl.npy
    python tools/build_priors.py te --sequences data/my_videos/segments.txt \
        --num-classes 10 --out work_dirs/priors/my_te.npy

The matrix is ``A x A`` float32, rows and columns in class-id order; row k
is the smoothing distribution of ground-truth class k. Point a config's
``prior`` at the file, or give the loss the same arguments as a build spec.
``.npy`` is appended to an output name without it, as numpy does. Class names
without a word vector are listed (EPIC: a warning on stderr and the summary;
a class list: an error naming each name's line); malformed inputs end with
an error naming the file and exit status 1.
"""
import argparse
import os
import sys

import numpy as np

from lsant_mmaction.priors import PRIOR_KINDS, build_prior, summarize_prior
from lsant_mmaction.layout import VOCABULARIES


def parse_args():
    parser = argparse.ArgumentParser(
        description='Build an action prior (.npy)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('kind', choices=PRIOR_KINDS)
    parser.add_argument('--dataset', choices=VOCABULARIES,
                        help='EPIC-format vocabulary (with --actions); '
                        'without it, a class list')
    parser.add_argument('--actions', help='RU-LSTM actions.csv')
    parser.add_argument('--verb-classes', help='EPIC_verb_classes.csv (EK55 '
                        'gl/glvn)')
    parser.add_argument('--noun-classes', help='EPIC_noun_classes.csv (EK55 '
                        'gl/glvn)')
    parser.add_argument('--train', help='training CSV (te)')
    parser.add_argument('--class-names', help='class-name list, one a line '
                        '(gl/glvn of a class list)')
    parser.add_argument('--groups', help='group table CSV (vn/glvn of a '
                        'class list)')
    parser.add_argument('--sequences', help='segment list "video start '
                        'label" (te of a class list)')
    parser.add_argument('--num-classes', type=int, help='number of classes '
                        '(uniform, te of a class list; else checked)')
    parser.add_argument(
        '--glove',
        help='word vectors (gl/glvn): GloVe or word2vec file, '
        "'glove-6b-50d-classes' (shipped) or a gensim-data name")
    parser.add_argument('--similarity', choices=('dot', 'cosine'),
                        default='dot', help='GloVe similarity (paper: dot)')
    parser.add_argument('--out', required=True,
                        help='output .npy file (.npy is appended if missing)')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        prior, notes = build_prior(
            args.kind,
            args.dataset,
            args.actions,
            verb_classes=args.verb_classes,
            noun_classes=args.noun_classes,
            train=args.train,
            glove=args.glove,
            similarity=args.similarity,
            class_names=args.class_names,
            groups=args.groups,
            sequences=args.sequences,
            num_classes=args.num_classes)
    except (ValueError, OSError) as e:  # messages name the file or option
        sys.exit(f'build_priors.py: error: {e}')
    out = args.out if args.out.endswith('.npy') else args.out + '.npy'
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.save(out, prior)
    summary = summarize_prior(prior)
    print(f'{args.kind} prior: {summary["size"]}x{summary["size"]} float32 '
          f'-> {out}')
    print(f'mean support per row: {summary["mean_support"]:.1f} classes; '
          f'rows with a single entry: {summary["single_entry_rows"]}')
    if 'missing_vectors' in notes:
        print(f'class names without a word vector '
              f'({len(notes["missing_vectors"])}): {notes["missing_vectors"]}')
    if 'no_predecessor' in notes:
        print(f'classes that never follow another in training '
              f'({len(notes["no_predecessor"])}, one-hot rows): '
              f'{notes["no_predecessor"][:20]}'
              f'{" ..." if len(notes["no_predecessor"]) > 20 else ""}')


if __name__ == '__main__':
    main()
