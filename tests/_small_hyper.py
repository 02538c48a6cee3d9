"""Small, fast hyperparameters per registered learner for fits on a plain dataset (no link
known, so the link-driven defaults are set: an exponent, the identity transform), shared by
the learner-contract and the scikit-learn test modules."""

SMALL = {
    "online_sgd": dict(exponent=1, width=4),
    "smoothed_sgd": dict(exponent=1, width=4),
    "unified": dict(exponent=1, label_transform="identity", width=4),
    "sparse_unified": dict(exponent=1, label_transform="identity", width=4, sparsity=3),
    "batch_reuse_sgd": dict(width=4),
    "layerwise": dict(width=8, t1=2),
    "power_iteration": dict(width=8, t1=2),
    "one_step": dict(width=8),
    "spectral": dict(preprocess="identity"),
    "sir": {},
    "save": {},
    "phd": {},
    "random_features": dict(m=16),
    "kernel_ridge": {},
    "gamp": dict(link="he1", max_iter=5, nodes=100),
}
