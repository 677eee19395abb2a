# Study of the selection strategies (the paper's Table III, "Selection Model
# w/ Pair-wise loss"): the CCR study selector trained with a RankNet-style
# pair-wise loss instead.
_base_ = ['./mh-sel-ccr_r18s_k16_study-synthetic-64x64.py']

model = dict(loss_rank=dict(_delete_=True, type='PairwiseRankLoss'))
