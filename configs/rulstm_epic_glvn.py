# RU-LSTM stage 3/3 on EK55: modality-attention fusion of the rgb, flow and
# obj branches, each starting from the best checkpoint of its stage 2
# (rulstm_epic_glvn_{rgb,flow,obj}.py) and fine-tuned with the fusion;
# GL+VN prior.
_base_ = [
    '_base_/models/rulstm_fusion_anticipator.py',
    '_base_/datasets/epic55_features.py', '_base_/schedules/sgd_100e.py',
    '_base_/default_runtime.py'
]

model = dict(
    cls_head=dict(
        branches=dict(
            rgb=dict(init_cfg=dict(
                type='Pretrained',
                checkpoint='work_dirs/rulstm_epic_glvn_rgb/best.pth',
                prefix='cls_head.branch.')),
            flow=dict(init_cfg=dict(
                type='Pretrained',
                checkpoint='work_dirs/rulstm_epic_glvn_flow/best.pth',
                prefix='cls_head.branch.')),
            obj=dict(init_cfg=dict(
                type='Pretrained',
                checkpoint='work_dirs/rulstm_epic_glvn_obj/best.pth',
                prefix='cls_head.branch.'))),
        loss_cls=dict(
            alpha=0.5, prior={{_base_.priors.glvn}}, num_classes=2513)))
