"""Progress of a run on the terminal: one bar for the trainings (model x
split), one for the epochs of the current training and one for the batches
of the current epoch, with throughput. ``Silent`` is the same interface
doing nothing, for ``--quiet`` and for the ranks that do not report."""

from __future__ import annotations

from tqdm import tqdm


class Silent:
    def plan(self, trainings: int, done: int) -> None:
        pass

    def start_training(self, name: str, epochs: int, done: int) -> None:
        pass

    def start_epoch(self, windows: int) -> None:
        pass

    def batch(self, windows: int) -> None:
        pass

    def end_epoch(self, summary: str) -> None:
        pass

    def end_training(self) -> None:
        pass

    def close(self) -> None:
        pass


class Bars(Silent):
    def __init__(self):
        self.trainings = tqdm(desc="trainings", unit="split", position=0)
        self.epochs = tqdm(desc="epochs", unit="epoch", position=1, leave=False)
        self.batches = tqdm(desc="batches", unit="window", unit_scale=True, position=2, leave=False)

    def plan(self, trainings: int, done: int) -> None:
        self.trainings.reset(total=trainings)
        self.trainings.update(done)

    def start_training(self, name: str, epochs: int, done: int) -> None:
        self.trainings.set_postfix_str(name)
        self.epochs.reset(total=epochs)
        self.epochs.update(done)

    def start_epoch(self, windows: int) -> None:
        # Counted in windows, so the rate tqdm shows is windows per second.
        self.batches.reset(total=windows)

    def batch(self, windows: int) -> None:
        self.batches.update(windows)

    def end_epoch(self, summary: str) -> None:
        self.epochs.update(1)
        self.epochs.set_postfix_str(summary)

    def end_training(self) -> None:
        self.trainings.update(1)

    def close(self) -> None:
        for bar in (self.batches, self.epochs, self.trainings):
            bar.close()
