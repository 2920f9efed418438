"""Import-time stand-in for MedPy (not in Debian). nnU-Net v1 imports `medpy.metric` in
evaluation/metrics.py, which the trainer module imports; the predict path never calls it.
Any use raises, so an unexpected call cannot pass silently."""
