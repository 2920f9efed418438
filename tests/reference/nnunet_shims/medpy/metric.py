"""See medpy/__init__.py: imported by nnU-Net v1, never called by the predict path."""


def __getattr__(name):
    raise NotImplementedError('medpy.metric.%s is not available (panseval import stub)' % name)
