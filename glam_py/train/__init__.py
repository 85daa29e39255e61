"""Training and evaluation: the mixup trainer, the paper's protocols and
metrics, and resumable runs. The command line is ``python -m glam_py.train``."""
