# Study of the selection strategies (the paper's Table III, "Random
# Selection"): the trained K = 16 study generator, test only, hypotheses
# ranked at random (seeded). "Projective Selection" is the study generator
# config itself (ProjectiveSelector).
_base_ = ['./mh-gen_r18s_k16_study-synthetic-64x64.py']

model = dict(selector=dict(_delete_=True, type='RandomSelector', seed=0))
