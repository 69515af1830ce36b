# EGTEA Gaze+ features in the RU-LSTM layout (split 1 of 3):
#   {data_root}/training1.csv validation1.csv actions.csv
#   {data_root}/TSN-C_3_egtea_action_CE_s1_{rgb,flow}_model_best_fcfull_hd/
# Splits 2 and 3: --cfg-options with training2.csv / validation2.csv, the
# s2 LMDBs (pipelines' lmdb_dirs) and the te prior's train file.
dataset_type = 'EgteaGazeFeatureDataset'
data_root = 'data/egtea/'
split = 1
num_classes = 106
feature_dims = dict(rgb=1024, flow=1024)
lmdb_dirs = {
    m: f'TSN-C_3_egtea_action_CE_s{split}_{m}_model_best_fcfull_hd'
    for m in ('rgb', 'flow')
}
meta_keys = ('segment_id', 'video_id', 'frame_inds', 'verb_label',
             'noun_label')

# one pipeline per modality set; an experiment picks one
pipelines = {
    name: [
        dict(
            type='LoadLMDBFeatures',
            modalities=mods,
            feature_dims={m: feature_dims[m]
                          for m in mods},
            lmdb_dirs={m: lmdb_dirs[m]
                       for m in mods}),
        dict(type='PackActionInputs', collect_keys=mods, meta_keys=meta_keys)
    ]
    for name, mods in dict(
        rgb=('rgb', ), flow=('flow', ), rgb_flow=('rgb', 'flow')).items()
}

# the paper's priors over the EGTEA actions; an experiment picks one
# (each spec holds exactly what its kind reads: the loss refuses other keys)
priors = dict(
    uniform=dict(kind='uniform'),  # needs only the loss's num_classes
    vn=dict(kind='vn', dataset='egtea', actions=data_root + 'actions.csv'),
    te=dict(
        kind='te',
        dataset='egtea',
        actions=data_root + 'actions.csv',
        train=data_root + f'training{split}.csv'),
    gl=dict(
        kind='gl',
        dataset='egtea',
        actions=data_root + 'actions.csv',
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
        ann_file=f'training{split}.csv',
        data_root=data_root,
        num_classes=num_classes,
        pipeline=pipelines['rgb_flow']))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=f'validation{split}.csv',
        data_root=data_root,
        num_classes=num_classes,
        pipeline=pipelines['rgb_flow'],
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='AnticipationMetric', verb_noun=True, time_to_action=True)
test_evaluator = val_evaluator
