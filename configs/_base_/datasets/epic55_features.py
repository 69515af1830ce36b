# EPIC-Kitchens-55 features in the RU-LSTM layout:
#   {data_root}/training.csv, validation.csv, actions.csv
#   {data_root}/{rgb,flow,obj}/   one LMDB per modality
dataset_type = 'EpicKitchens55FeatureDataset'
data_root = 'data/ek55/'
modalities = ('rgb', 'flow', 'obj')
feature_dims = dict(rgb=1024, flow=1024, obj=352)

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

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file='training.csv',
        data_root=data_root,
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file='validation.csv',
        data_root=data_root,
        pipeline=pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AnticipationMetric')
test_evaluator = val_evaluator
