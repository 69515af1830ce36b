# RU-LSTM stage 2/3, rgb branch: anticipation fine-tuning, starting from the
# best checkpoint of rulstm_epic_glvn_rgb_scp.py; GL+VN prior.
# Next: rulstm_epic_glvn.py (fusion)
_base_ = [
    '_base_/models/rulstm_anticipator.py', '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

model = dict(
    modalities=('rgb', ),
    cls_head=dict(
        num_classes=2513,
        in_channels=1024,
        modalities=('rgb', ),
        loss_cls=dict(
            alpha=0.5, prior={{_base_.priors.glvn}}, num_classes=2513)))
load_from = 'work_dirs/rulstm_epic_glvn_rgb_scp/best.pth'

train_dataloader = dict(dataset=dict(pipeline={{_base_.pipelines.rgb}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.pipelines.rgb}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.pipelines.rgb}}))
