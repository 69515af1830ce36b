# RU-LSTM fusion: one branch per modality (rgb, flow, obj), modality
# attention (MATT). Experiments start each branch from its trained
# checkpoint with init_cfg=dict(type='Pretrained', ...).
model = dict(
    type='Anticipator',
    modalities=('rgb', 'flow', 'obj'),
    cls_head=dict(
        type='MATTFusionHead',
        num_classes=2513,
        branches=dict(
            rgb=dict(type='RollingUnrollingLSTM', in_channels=1024,
                     hidden_channels=1024, dropout=0.8),
            flow=dict(type='RollingUnrollingLSTM', in_channels=1024,
                      hidden_channels=1024, dropout=0.8),
            obj=dict(type='RollingUnrollingLSTM', in_channels=352,
                     hidden_channels=1024, dropout=0.8)),
        dropout=0.8,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.0)))
