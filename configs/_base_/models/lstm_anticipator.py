# LSTM baseline (one LSTM, hidden 1024, dropout 0.8) over the 14 steps,
# predicting at the last 8 (2.0 ... 0.25 s). Modalities are concatenated.
model = dict(
    type='Anticipator',
    modalities=('rgb', 'flow', 'obj'),
    cls_head=dict(
        type='LSTMAnticipationHead',
        num_classes=2513,
        in_channels=1024 + 1024 + 352,
        hidden_channels=1024,
        dropout=0.8,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.0)))
