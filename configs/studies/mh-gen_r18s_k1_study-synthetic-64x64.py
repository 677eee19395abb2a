# Study of K (best-of-K MPJPE against the number of hypotheses, the paper's
# Table II): the study generator trained with K = 1.
_base_ = ['./mh-gen_r18s_k16_study-synthetic-64x64.py']

# one hypothesis has no pairs to push apart
model = dict(
    head=dict(
        transformer=dict(num_hypotheses=1), loss_diversity=None))
