# Self-distillation on the demo data (docs/distillation.md): the
# LSTM baseline of lstm_demo_glvn.py whose own prediction at the last
# anticipation step (0.25 s before the action, the most certain), detached,
# teaches its earlier steps (2.0 ... 0.5 s), beside the GL+VN prior:
# (1 - alpha) onehot + alpha [(1 - beta) prior + beta p_0.25s^(1/T)] at the
# earlier steps, the prior alone at the last; alpha 0.5, beta 0.5, T 2. No
# separate teacher.
_base_ = ['lstm_demo_glvn.py']

model = dict(cls_head=dict(loss_cls=dict(
    beta=0.5, temperature=2.0, teacher='self')))
