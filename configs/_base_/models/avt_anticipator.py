# AVT-h (Girdhar and Grauman, ICCV 2021) on per-step features: the
# modalities concatenated, a GPT-2-style causal transformer (2048 channels,
# 6 layers, 4 heads, dropouts 0.1: its EK100 TSN model) whose output at
# each step predicts the next step's feature (mean squared error, weight
# 1) and, at the last 8 steps (2.0 ... 0.25 s), the action, from one pass
# (AVTHead: where it follows the official code and where it differs).
model = dict(
    type='Anticipator',
    modalities=('rgb', 'flow', 'obj'),
    cls_head=dict(
        type='AVTHead',
        num_classes=2513,
        in_channels=1024 + 1024 + 352,
        transformer=dict(
            type='CausalTransformer', channels=2048, num_layers=6,
            num_heads=4),
        dropout=0.2,
        num_anticipation_steps=8,
        feat_loss_weight=1.0,
        loss_cls=dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.0)))
