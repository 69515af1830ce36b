# RU-LSTM stage 3/3 on the demo data: modality-attention fusion of the rgb,
# flow and obj branches, each starting from the best checkpoint of its
# stage 2 (rulstm_demo_glvn_{rgb,flow,obj}.py); GL+VN prior.
_base_ = [
    '_base_/models/rulstm_fusion_anticipator.py',
    '_base_/datasets/demo_features.py', '_base_/schedules/sgd_100e.py',
    '_base_/default_runtime.py'
]

model = dict(
    cls_head=dict(
        num_classes=65,
        branches=dict(
            rgb=dict(
                in_channels=128,
                hidden_channels=256,
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint='work_dirs/rulstm_demo_glvn_rgb/best.pth',
                    prefix='cls_head.branch.')),
            flow=dict(
                in_channels=128,
                hidden_channels=256,
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint='work_dirs/rulstm_demo_glvn_flow/best.pth',
                    prefix='cls_head.branch.')),
            obj=dict(
                in_channels=20,
                hidden_channels=256,
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint='work_dirs/rulstm_demo_glvn_obj/best.pth',
                    prefix='cls_head.branch.'))),
        loss_cls=dict(
            alpha=0.5, prior={{_base_.priors.glvn}}, num_classes=65)))

train_cfg = dict(max_epochs=5)
default_hooks = dict(logger=dict(interval=10))
