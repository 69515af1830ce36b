# EPIC-KITCHENS-100 features in the RU-LSTM layout (RU-LSTM's --ek100 mode):
#   {data_root}/training.csv validation.csv test_timestamps.csv actions.csv
#   {data_root}/EPIC_100_verb_classes.csv EPIC_100_noun_classes.csv
#   {data_root}/validation_{unseen_participants,tail_verbs,tail_nouns,
#               tail_actions}_ids.csv   evaluation subsets (one id a line)
#   {data_root}/{rgb,flow,obj}/   one LMDB per modality
# Segment ids are strings (P01_01_12). The challenge split is
# test_timestamps.csv (no labels): set test_dataloader's ann_file to it.
dataset_type = 'EpicKitchens100FeatureDataset'
data_root = 'data/ek100/'
num_classes = 3806
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

# the paper's priors over the EK100 actions; an experiment picks one
# (each spec holds exactly what its kind reads: the loss refuses other keys)
priors = dict(
    uniform=dict(kind='uniform'),  # needs only the loss's num_classes
    vn=dict(kind='vn', dataset='epic100', actions=data_root + 'actions.csv'),
    te=dict(
        kind='te',
        dataset='epic100',
        actions=data_root + 'actions.csv',
        train=data_root + 'training.csv'),
    gl=dict(
        kind='gl',
        dataset='epic100',
        actions=data_root + 'actions.csv',
        verb_classes=data_root + 'EPIC_100_verb_classes.csv',
        noun_classes=data_root + 'EPIC_100_noun_classes.csv',
        glove='glove-wiki-gigaword-300'),  # or a local glove.6B.300d.txt
)
priors['glvn'] = dict(priors['gl'], kind='glvn')

# the validation subsets on which EK100 reports mean top-5 recall (RU-LSTM's
# id lists); the dataset publishes them with the dropped segments' labels
validation_subsets = dict(
    unseen='validation_unseen_participants_ids.csv',
    tail_verb='validation_tail_verbs_ids.csv',
    tail_noun='validation_tail_nouns_ids.csv',
    tail_action='validation_tail_actions_ids.csv')

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
        subsets=validation_subsets,
        pipeline=pipelines['rgb_flow_obj'],
        test_mode=True))
test_dataloader = val_dataloader

# EK100 measures (RU-LSTM's --ek100): class-mean top-5 recall of verb, noun
# and action at each anticipation time over all classes present, overall and
# on the unseen and tail subsets, dropped segments counted with zero scores;
# top-1/top-5 accuracy too. Experiments select checkpoints on
# anticipation/action_mt5r@1.00s.
val_evaluator = dict(
    type='AnticipationMetric',
    verb_noun=True,
    all_classes=True,
    subsets=('unseen', 'tail'),
    count_dropped=True)
test_evaluator = val_evaluator
