# EPIC-Kitchens-55 features in the RU-LSTM layout:
#   {data_root}/training.csv validation.csv actions.csv
#   {data_root}/EPIC_verb_classes.csv EPIC_noun_classes.csv
#   {data_root}/EPIC_many_shot_verbs.csv EPIC_many_shot_nouns.csv
#   {data_root}/{rgb,flow,obj}/   one LMDB per modality
dataset_type = 'EpicKitchens55FeatureDataset'
data_root = 'data/ek55/'
num_classes = 2513
feature_dims = dict(rgb=1024, flow=1024, obj=352)
meta_keys = ('segment_id', 'video_id', 'frame_inds', 'verb_label',
             'noun_label')

# one pipeline per modality set; an experiment picks one
pipelines = {
    name: [
        dict(
            type='LoadLMDBFeatures',
            modalities=mods,
            feature_dims={m: feature_dims[m]
                          for m in mods}),
        dict(type='PackActionInputs', collect_keys=mods, meta_keys=meta_keys)
    ]
    for name, mods in dict(
        rgb=('rgb', ),
        flow=('flow', ),
        obj=('obj', ),
        rgb_flow_obj=('rgb', 'flow', 'obj')).items()
}

# raw frames instead of features (mmaction's rawframe layout,
# {data_root}/frames/{video}/frame_{:010d}.jpg at 30 fps, as the CSVs): one
# frame per step for 2D backbones; a 3D config sets clip_len and
# FormatShape('NCTHW'). A frames experiment sets data_prefix=dict(frames=
# 'frames'), one of these pipelines and a small batch (docs/backbones.md, "Memory").
frame_pipelines = dict(
    train=[
        dict(type='LoadAnticipationFrames', clip_len=1),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='RandomCrop', size=224),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs', collect_keys=('imgs', ),
             meta_keys=meta_keys)
    ],
    test=[
        dict(type='LoadAnticipationFrames', clip_len=1),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='CenterCrop', crop_size=224),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs', collect_keys=('imgs', ),
             meta_keys=meta_keys)
    ])

# the paper's priors over the EK55 actions; an experiment picks one
# (each spec holds exactly what its kind reads: the loss refuses other keys)
priors = dict(
    uniform=dict(kind='uniform'),  # needs only the loss's num_classes
    vn=dict(kind='vn', dataset='epic55', actions=data_root + 'actions.csv'),
    te=dict(
        kind='te',
        dataset='epic55',
        actions=data_root + 'actions.csv',
        train=data_root + 'training.csv'),
    gl=dict(
        kind='gl',
        dataset='epic55',
        actions=data_root + 'actions.csv',
        verb_classes=data_root + 'EPIC_verb_classes.csv',
        noun_classes=data_root + 'EPIC_noun_classes.csv',
        glove='glove-wiki-gigaword-300'),  # or a local glove.6B.300d.txt
)
priors['glvn'] = dict(priors['gl'], kind='glvn')

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file='training.csv',
        data_root=data_root,
        num_classes=num_classes,
        pipeline=pipelines['rgb_flow_obj']))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file='validation.csv',
        data_root=data_root,
        num_classes=num_classes,
        pipeline=pipelines['rgb_flow_obj'],
        test_mode=True))
test_dataloader = val_dataloader

# verb/noun/action top-k, mean top-5 recall over many-shot classes (RU-LSTM's
# rule; many_shot='official' reads EPIC_many_shot_actions.csv) and time to
# action; the files come from the dataset's data_root
val_evaluator = dict(
    type='AnticipationMetric',
    verb_noun=True,
    many_shot='rulstm',
    time_to_action=True)
test_evaluator = val_evaluator
