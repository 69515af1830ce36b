# RU-LSTM stage 1/3, flow branch: sequence-completion pre-training (the
# unrolling LSTM reads the true future inputs), GL+VN prior.
# Next: rulstm_epic_glvn_flow.py
_base_ = [
    '_base_/models/rulstm_anticipator.py', '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

model = dict(
    modalities=('flow', ),
    cls_head=dict(
        num_classes=2513,
        in_channels=1024,
        modalities=('flow', ),
        sequence_completion=True,
        loss_cls=dict(
            alpha=0.5, prior={{_base_.priors.glvn}}, num_classes=2513)))

train_dataloader = dict(dataset=dict(pipeline={{_base_.pipelines.flow}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.pipelines.flow}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipelines.flow}}))
