# AFFT (Zhong et al., WACV 2023) on per-step features: each modality
# mapped to 1024 channels (the identity where it has them), a
# self-attention fuser over the modality tokens of each step and its
# fusion token (SA-Fuser: depth 6, 4 heads, dropouts and drop-path 0.1),
# then AVT's causal future predictor (GPT-2, 2048 channels, 6 layers, 4
# heads), classifying the action at the last 8 steps (2.0 ... 0.25 s) of
# one pass (AFFTHead: where it follows the official code and where it
# differs). The auxiliary losses (feature regression, past actions) are
# off here; the official-protocol configs turn them on.
model = dict(
    type='Anticipator',
    modalities=('rgb', 'flow', 'obj'),
    cls_head=dict(
        type='AFFTHead',
        num_classes=2513,
        modality_channels=dict(rgb=1024, flow=1024, obj=352),
        fusion_channels=1024,
        fuser=dict(type='ModalityTokenFuser', depth=6, num_heads=4),
        transformer=dict(
            type='CausalTransformer', channels=2048, num_layers=6,
            num_heads=4),
        dropout=0.2,
        num_anticipation_steps=8,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.0)))
