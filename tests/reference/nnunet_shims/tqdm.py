"""Import-time stand-in for tqdm (not installed here). nnU-Net v1's network_trainer.py imports
`trange` for its training loop, which the predict path never runs."""


def trange(*args, **kwargs):
    raise NotImplementedError('tqdm.trange is not available (panseval import stub)')


def tqdm(*args, **kwargs):
    raise NotImplementedError('tqdm.tqdm is not available (panseval import stub)')
