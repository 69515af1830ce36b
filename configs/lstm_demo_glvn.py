# LSTM baseline on the embedded demo data (tools/make_demo_data.py), GL+VN
# prior built from the GloVe vectors shipped with the package. Trains in a
# few minutes on 2 CPU cores.
_base_ = [
    '_base_/models/lstm_anticipator.py', '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

data_root = 'data/demo/'
num_classes = 65
feature_dims = dict(rgb=128, flow=128, obj=20)
modalities = ('rgb', 'flow', 'obj')

# ---- the prior and alpha: the one place to change them ----
alpha = 0.5
prior = dict(
    kind='glvn',  # uniform | vn | te | gl | glvn
    dataset='epic55',
    actions=data_root + 'actions.csv',
    verb_classes=data_root + 'EPIC_verb_classes.csv',
    noun_classes=data_root + 'EPIC_noun_classes.csv',
    train=data_root + 'training.csv',  # read by the te prior only
    glove='glove-6b-50d-classes')  # shipped real glove.6B 50d vectors

model = dict(
    cls_head=dict(
        num_classes=num_classes,
        in_channels=sum(feature_dims.values()),
        loss_cls=dict(
            type='PriorSmoothedCrossEntropyLoss',
            alpha=alpha,
            prior=prior,
            num_classes=num_classes)))

pipeline = [
    dict(
        type='LoadLMDBFeatures',
        modalities=modalities,
        feature_dims=feature_dims),
    dict(
        type='PackActionInputs',
        collect_keys=modalities,
        meta_keys=('segment_id', 'video_id', 'frame_inds', 'verb_label',
                   'noun_label'))
]
dataset_args = dict(
    type='EpicKitchens55FeatureDataset',
    data_root=data_root,
    num_classes=num_classes,
    num_verbs=12,
    num_nouns=20,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    dataset=dict(dataset_args, ann_file='training.csv'))
val_dataloader = dict(
    batch_size=128,
    num_workers=1,
    dataset=dict(dataset_args, ann_file='validation.csv', test_mode=True))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=15)
default_hooks = dict(logger=dict(interval=10))
