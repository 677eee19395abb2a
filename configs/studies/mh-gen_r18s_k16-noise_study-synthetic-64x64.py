# Study of the hypothesis codes (the paper's Table IV, "noise" vs
# "Embedding"): the K = 16 study generator with z_k ~ N(0, 1/E) drawn afresh
# for every image and forward pass instead of learned embeddings.
_base_ = ['./mh-gen_r18s_k16_study-synthetic-64x64.py']

model = dict(head=dict(transformer=dict(hypothesis_source='noise')))
