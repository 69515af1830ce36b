# Your own dataset in the RU-LSTM layout (RULSTMLayoutFeatureDataset; see
# docs/datasets.md, "Your own dataset"). Copy this file, then set the five facts below:
#   {data_root}/training.csv validation.csv   id,video,start,end,verb,noun,action
#   {data_root}/actions.csv                   id,verb,noun,action (header)
#   {data_root}/verb_classes.csv noun_classes.csv   id,key (header)
#   {data_root}/rgb/ ...                      one LMDB per modality
dataset_type = 'RULSTMLayoutFeatureDataset'
data_root = 'data/my_dataset/'
num_classes = 100  # actions in actions.csv
num_verbs = 20  # rows of verb_classes.csv
num_nouns = 40  # rows of noun_classes.csv
feature_dims = dict(rgb=1024)  # modality -> floats per LMDB value
meta_keys = ('segment_id', 'video_id', 'frame_inds', 'verb_label',
             'noun_label')
modalities = tuple(feature_dims)

pipeline = [
    dict(
        type='LoadLMDBFeatures',
        modalities=modalities,
        feature_dims=feature_dims),
    dict(type='PackActionInputs', collect_keys=modalities,
         meta_keys=meta_keys)
]

# the paper's five priors over your actions; an experiment picks one
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
        dataset='epic100',  # the format of actions.csv and the class files
        actions=data_root + 'actions.csv',
        verb_classes=data_root + 'verb_classes.csv',
        noun_classes=data_root + 'noun_classes.csv',
        glove='glove-wiki-gigaword-300'),  # or a local GloVe .txt file
)
priors['glvn'] = dict(priors['gl'], kind='glvn')

dataset = dict(
    type=dataset_type,
    data_root=data_root,
    num_classes=num_classes,
    num_verbs=num_verbs,
    num_nouns=num_nouns,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, ann_file='training.csv'))
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, ann_file='validation.csv', test_mode=True))
test_dataloader = val_dataloader

# top-1/top-5 of verbs, nouns and actions and the class-mean top-5 recall
# (over every class present) at each anticipation time
val_evaluator = dict(
    type='AnticipationMetric', verb_noun=True, all_classes=True)
test_evaluator = val_evaluator
