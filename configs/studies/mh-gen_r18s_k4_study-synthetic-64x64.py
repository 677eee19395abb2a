# Study of K (best-of-K MPJPE against the number of hypotheses, the paper's
# Table II): the study generator trained with K = 4.
_base_ = ['./mh-gen_r18s_k16_study-synthetic-64x64.py']

model = dict(head=dict(transformer=dict(num_hypotheses=4)))
