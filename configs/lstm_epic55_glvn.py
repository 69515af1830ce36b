# LSTM baseline on EK55 features (rgb + flow + obj), GL+VN prior.
_base_ = [
    '_base_/models/lstm_anticipator.py', '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

data_root = 'data/ek55/'
# ---- the prior and alpha: the one place to change them ----
alpha = 0.5
prior = dict(
    kind='glvn',  # uniform | vn | te | gl | glvn
    dataset='epic55',
    actions=data_root + 'actions.csv',
    verb_classes=data_root + 'EPIC_verb_classes.csv',
    noun_classes=data_root + 'EPIC_noun_classes.csv',
    train=data_root + 'training.csv',  # read by the te prior only
    glove='glove-wiki-gigaword-300')  # or a local glove.6B.300d.txt

model = dict(
    cls_head=dict(
        loss_cls=dict(
            type='PriorSmoothedCrossEntropyLoss',
            alpha=alpha,
            prior=prior,
            num_classes=2513)))
