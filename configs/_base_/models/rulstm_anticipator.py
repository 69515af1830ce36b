# One RU-LSTM branch (hidden 1024, dropout 0.8) on one modality, predicting
# at the last 8 steps (2.0 ... 0.25 s). Experiments set the modality.
model = dict(
    type='Anticipator',
    modalities=('rgb', ),
    cls_head=dict(
        type='RULSTMHead',
        num_classes=2513,
        in_channels=1024,
        hidden_channels=1024,
        dropout=0.8,
        sequence_completion=False,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.0)))
