"""The pieces of ``python -m glam_py.report``: reading a run directory,
one module per figure (confusion matrices, t-SNE of the embeddings,
training curves) and the markdown page that links them."""
