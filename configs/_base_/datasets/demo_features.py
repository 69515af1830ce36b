# The embedded demo dataset (tools/make_demo_data.py): EK55-shaped, RU-LSTM
# layout, 65 actions (12 verbs, 20 nouns), small features.
dataset_type = 'EpicKitchens55FeatureDataset'
data_root = 'data/demo/'
num_classes = 65
feature_dims = dict(rgb=128, flow=128, obj=20)
meta_keys = ('segment_id', 'video_id', 'frame_inds', 'verb_label',
             'noun_label')

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

# GloVe from the vectors shipped with the package: no network needed
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
        glove='glove-6b-50d-classes'),
)
priors['glvn'] = dict(priors['gl'], kind='glvn')

demo_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    num_classes=num_classes,
    num_verbs=12,
    num_nouns=20,
    pipeline=pipelines['rgb_flow_obj'])
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(demo_dataset, ann_file='training.csv'))
val_dataloader = dict(
    batch_size=128,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(demo_dataset, ann_file='validation.csv', test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='AnticipationMetric',
    verb_noun=True,
    many_shot='rulstm',
    time_to_action=True)
test_evaluator = val_evaluator
