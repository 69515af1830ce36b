# EPIC-Kitchens-55 raw frames (mmaction's rawframe layout) on RU-LSTM's
# annotations and time grid:
#   {data_root}/training.csv validation.csv actions.csv ...
#   {data_root}/frames/{video}/frame_{:010d}.jpg   (30 fps, as the CSVs)
# One frame per step (2D backbones); a 3D config sets clip_len and
# FormatShape('NCTHW').
dataset_type = 'EpicKitchens55FeatureDataset'
data_root = 'data/ek55/'
meta_keys = ('segment_id', 'video_id', 'frame_inds', 'verb_label',
             'noun_label')

train_pipeline = [
    dict(type='LoadAnticipationFrames', clip_len=1),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomCrop', size=224),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadAnticipationFrames', clip_len=1),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=meta_keys)
]

# the paper's priors over the 2513 EK55 actions; an experiment picks one
priors = {
    kind: dict(
        kind=kind,
        dataset='epic55',
        actions=data_root + 'actions.csv',
        verb_classes=data_root + 'EPIC_verb_classes.csv',
        noun_classes=data_root + 'EPIC_noun_classes.csv',
        train=data_root + 'training.csv',
        glove='glove-wiki-gigaword-300')
    for kind in ('uniform', 'vn', 'te', 'gl', 'glvn')
}

# 14 frames per sample: a small batch (see README, "Memory")
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file='training.csv',
        data_root=data_root,
        data_prefix=dict(frames='frames'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file='validation.csv',
        data_root=data_root,
        data_prefix=dict(frames='frames'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='AnticipationMetric',
    verb_noun=True,
    many_shot='rulstm',
    time_to_action=True)
test_evaluator = val_evaluator
