"""Progress of a run. On a terminal (:class:`Bars`): one bar for the
trainings (model x split), one for the epochs of the current training and
one for the batches of the current epoch, with throughput. In a log
(:class:`Lines`): one line per epoch with its loss, test UA, windows per
second and the run's ETA. ``Silent`` is the same interface doing nothing,
for ``--quiet`` and for the ranks that do not report; :func:`for_output`
chooses. Each also owns how the run's other lines are written
(:meth:`Silent.log`)."""

from __future__ import annotations

import time

from tqdm import tqdm

from glam_py.progress import duration, interactive, write_line


class Silent:
    def log(self, line: str) -> None:
        """Writes one line of the run's log (what was featurised, each
        split's result), in the way that suits the progress shown."""

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
    # The bars appear with the plan, so that an error found before any
    # training prints no empty bars.
    def __init__(self):
        self.bars: tuple[tqdm, tqdm, tqdm] | None = None

    def log(self, line: str) -> None:
        # Above the bars, which are redrawn below it.
        tqdm.write(line)

    def plan(self, trainings: int, done: int) -> None:
        self.bars = (
            tqdm(desc="trainings", unit="split", position=0, total=trainings, initial=done),
            tqdm(desc="epochs", unit="epoch", position=1, leave=False),
            tqdm(desc="batches", unit="window", unit_scale=True, position=2, leave=False),
        )

    def start_training(self, name: str, epochs: int, done: int) -> None:
        trainings, bar, _ = self.bars
        trainings.set_postfix_str(name)
        bar.reset(total=epochs)
        bar.update(done)

    def start_epoch(self, windows: int) -> None:
        # Counted in windows, so the rate tqdm shows is windows per second.
        self.bars[2].reset(total=windows)

    def batch(self, windows: int) -> None:
        self.bars[2].update(windows)

    def end_epoch(self, summary: str) -> None:
        self.bars[1].update(1)
        self.bars[1].set_postfix_str(summary)

    def end_training(self) -> None:
        self.bars[0].update(1)

    def close(self) -> None:
        for bar in reversed(self.bars or ()):
            bar.close()


class Lines(Silent):
    """One line per epoch on stdout, where the run's other lines go."""

    def __init__(self):
        self.trainings_left = 0
        self.seconds = self.epochs_timed = 0.0

    def log(self, line: str) -> None:
        write_line(line)

    def plan(self, trainings: int, done: int) -> None:
        self.trainings_left = trainings - done

    def start_training(self, name: str, epochs: int, done: int) -> None:
        self.name, self.epochs, self.epoch = name, epochs, done
        self.trainings_left -= 1

    def start_epoch(self, windows: int) -> None:
        self.windows, self.started = windows, time.perf_counter()

    def end_epoch(self, summary: str) -> None:
        seconds = time.perf_counter() - self.started
        self.seconds += seconds
        self.epochs_timed += 1
        self.epoch += 1
        # Later trainings are assumed as long as this one.
        left = (self.epochs - self.epoch) + self.trainings_left * self.epochs
        self.log(
            f"{self.name} epoch {self.epoch}/{self.epochs}: {summary}, "
            f"{self.windows / max(seconds, 1e-9):.0f} windows/s, "
            f"ETA {duration(left * self.seconds / self.epochs_timed)}"
        )


def for_output(quiet: bool) -> Silent:
    """The progress a run shows: nothing when ``quiet``, bars on a
    terminal, lines in a log."""
    if quiet:
        return Silent()
    return Bars() if interactive() else Lines()
