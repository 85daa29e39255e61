"""What several test modules and the benchmarks share: input locations and
signals (:mod:`.inputs`), the authors' reference checkpoints
(:mod:`.models`), a transcription of the authors' GLAM class
(:mod:`.reference_glam`) and training-run helpers (:mod:`.training`)."""
