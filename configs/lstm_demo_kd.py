# Knowledge distillation on the demo data (docs/distillation.md): the
# LSTM baseline of lstm_demo_glvn.py as the student of a teacher whose
# probabilities on the training split are a teacher store (the RU-LSTM demo
# fusion, rulstm_demo_glvn.py, dumped with tools/test.py --split
# training.csv and stored by tools/build_teacher_store.py). Target:
# (1 - alpha) onehot + alpha [(1 - beta) prior_GL+VN + beta teacher^(1/T)],
# alpha 0.5, beta 0.5, T 2. beta=1 (and prior=None) distils the teacher
# alone; sweep beta and T with tools/sweep.py --grid.
_base_ = ['lstm_demo_glvn.py']

teacher_store = 'work_dirs/rulstm_demo_glvn/teacher_store'
modalities = ('rgb', 'flow', 'obj')
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadLMDBFeatures', modalities=modalities,
         feature_dims={{_base_.feature_dims}}),
    dict(type='LoadTeacherScores', store=teacher_store),
    dict(type='PackActionInputs', collect_keys=modalities,
         meta_keys=('segment_id', 'video_id', 'frame_inds', 'verb_label',
                    'noun_label', 'teacher_score', 'has_teacher'))
]))
model = dict(cls_head=dict(loss_cls=dict(beta=0.5, temperature=2.0)))
