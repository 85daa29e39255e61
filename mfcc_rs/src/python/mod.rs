//! The PyO3 adapter: converts Python values to core types and back, runs the
//! heavy work with the GIL released, and maps [`Error`] to Python exceptions
//! in one place ([`to_py`]). No feature logic lives here.

mod batch;
mod config;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyRuntimeError,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::audio;
use crate::batch::{featurize_files_until, thread_pool};
use crate::config::FeatureConfig;
use crate::dsp::mel::{MelFilterbank, MelSpec};
use crate::dsp::mfcc::Pipeline;
use crate::error::Error;
use crate::featurize::featurize_utterance;

use self::batch::{
    sources_of, FeatureBatch, FileError, FileInfo, PyFeatureStream, PyFileWindows, PySegment,
};
use self::config::PyFeatureConfig;

pyo3::create_exception!(
    _mfcc_rs,
    AudioDecodeError,
    PyValueError,
    "A file was read but is not usable audio (not audio, truncated, unsupported encoding, no samples, NaN, infinite or out-of-range samples, a decoder that gave up)."
);

/// The one conversion of core errors to Python exceptions.
fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(message),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
            _ => PyOSError::new_err(message),
        },
        Error::Decode { .. } => AudioDecodeError::new_err(message),
        Error::Signal(_) | Error::Config(_) => PyValueError::new_err(message),
    }
}

/// How often a long call looks for Ctrl-C (and other Python signals).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Runs `work` on a helper thread with the GIL released while this thread
/// runs Python's signal handlers every [`SIGNAL_CHECK`]. When one raises
/// (KeyboardInterrupt), `work` is told to stop through its flag, and the
/// exception is returned once it has: a long featurisation stops within about
/// one file's time. `work` returns `None` only when told to stop.
fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> Option<T> + Send,
) -> PyResult<T> {
    py.detach(|| {
        let cancel = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel();
            let flag = &cancel;
            let worker = scope.spawn(move || {
                let out = work(flag);
                let _ = done.send(());
                out
            });
            let mut interrupt = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_CHECK) {
                if let Err(e) = Python::attach(|py| py.check_signals()) {
                    cancel.store(true, Ordering::Relaxed);
                    interrupt = Some(e);
                    break;
                }
            }
            let result = worker.join();
            if let Some(e) = interrupt {
                return Err(e);
            }
            match result {
                Ok(Some(out)) => Ok(out),
                Ok(None) => unreachable!("only a signal sets the flag"),
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("unknown cause");
                    Err(PyRuntimeError::new_err(format!(
                        "internal error in mfcc_rs: {why}"
                    )))
                }
            }
        })
    })
}

fn config_of(config: Option<&Bound<'_, PyFeatureConfig>>) -> FeatureConfig {
    config.map_or_else(FeatureConfig::default, |c| c.get().inner.clone())
}

/// `y`, whose rate is `sr` (the configured rate when `None`), at the
/// configured rate and speed, as a file is read. Augmentation is refused:
/// its chains are drawn from a file's path.
fn at_configured_rate<'a>(
    y: &'a [f32],
    sr: Option<u32>,
    config: &FeatureConfig,
) -> crate::Result<Cow<'a, [f32]>> {
    if !config.augment.is_empty() {
        return Err(Error::Config(
            "augment draws each file's chain from the file's path, and an in-memory signal has \
             none: featurise files (featurize, iter_featurize or iter_file_windows)"
                .into(),
        ));
    }
    let from = audio::perturbed_rate(sr.unwrap_or(config.sample_rate), config.speed);
    if from == config.sample_rate {
        return Ok(Cow::Borrowed(y));
    }
    audio::resample::resample(y, from, config.sample_rate).map(Cow::Owned)
}

/// Moves a `[n, rows, cols]` buffer into numpy without copying it.
fn windows_array(
    py: Python<'_>,
    data: Vec<f32>,
    rows: usize,
    cols: usize,
) -> Bound<'_, PyArray3<f32>> {
    let n = data.len().checked_div(rows * cols).unwrap_or(0);
    Array3::from_shape_vec((n, rows, cols), data)
        .expect("the core fills whole matrices")
        .into_pyarray(py)
}

/// Decodes an audio file to float32 mono, resampled to `sr` unless it is None.
/// Returns the samples and the file's original sample rate.
#[pyfunction]
#[pyo3(signature = (path, sr=None))]
fn load<'py>(
    py: Python<'py>,
    path: PathBuf,
    sr: Option<u32>,
) -> PyResult<(Bound<'py, PyArray1<f32>>, u32)> {
    let audio = py.detach(|| audio::load(&path, sr)).map_err(to_py)?;
    Ok((audio.samples.into_pyarray(py), audio.original_sample_rate))
}

/// Resamples a float32 signal with the same resampler as `load`.
#[pyfunction]
fn resample<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    orig_sr: u32,
    target_sr: u32,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let samples = y.as_slice()?;
    let out = py
        .detach(|| audio::resample::resample(samples, orig_sr, target_sr))
        .map_err(to_py)?;
    Ok(out.into_pyarray(py))
}

/// librosa's feature matrix of a whole signal: `[n_features, n_frames]`.
#[pyfunction]
#[pyo3(signature = (y, sr=None, config=None))]
fn mfcc<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    sr: Option<u32>,
    config: Option<&Bound<'py, PyFeatureConfig>>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let config = config_of(config);
    let samples = y.as_slice()?;
    let (rows, data) = py
        .detach(|| {
            let pipe = Pipeline::shared(&config)?;
            let signal = at_configured_rate(samples, sr, &config)?;
            let data = pipe.features(&signal, &mut pipe.scratch())?;
            Ok::<_, Error>((config.n_features(), data))
        })
        .map_err(to_py)?;
    Ok(Array2::from_shape_vec((rows, data.len() / rows), data)
        .expect("the core fills whole matrices")
        .into_pyarray(py))
}

/// Every window of one in-memory utterance: `(windows, note)`.
#[pyfunction]
#[pyo3(signature = (y, sr=None, config=None))]
fn featurize_signal<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    sr: Option<u32>,
    config: Option<&Bound<'py, PyFeatureConfig>>,
) -> PyResult<(Bound<'py, PyArray3<f32>>, Option<String>)> {
    let config = config_of(config);
    let samples = y.as_slice()?;
    let (data, note) = py
        .detach(|| {
            let pipe = Pipeline::shared(&config)?;
            let signal = at_configured_rate(samples, sr, &config)?;
            let mut out = Vec::new();
            let outcome = featurize_utterance(&pipe, &signal, &mut pipe.scratch(), &mut out)?;
            Ok::<_, Error>((out, outcome.note))
        })
        .map_err(to_py)?;
    Ok((
        windows_array(py, data, config.n_features(), config.n_frames()),
        note,
    ))
}

/// Featurises files (or segments of them, `segments[i]` for `paths[i]`)
/// in parallel on `threads` threads with the GIL released; `data[i]`,
/// where given, is file `i` already in memory.
#[pyfunction]
#[pyo3(signature = (paths, config=None, threads=None, segments=None, data=None))]
fn featurize(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    config: Option<&Bound<'_, PyFeatureConfig>>,
    threads: Option<usize>,
    segments: Option<Vec<Option<PySegment>>>,
    data: Option<Vec<Option<PyBackedBytes>>>,
) -> PyResult<FeatureBatch> {
    let sources = sources_of(paths, segments, data)?;
    let config = config_of(config);
    let pipe = Pipeline::shared(&config).map_err(to_py)?;
    let pool = thread_pool(threads).map_err(to_py)?;
    let batch = interruptible(py, |cancel| {
        featurize_files_until(&pipe, &pool, &sources, 0, cancel)
    })?;
    FeatureBatch::new(py, batch, &sources)
}

/// The librosa mel filterbank of a configuration, `[n_mels, 1 + n_fft / 2]`.
#[pyfunction]
#[pyo3(signature = (config=None))]
fn mel_filterbank<'py>(
    py: Python<'py>,
    config: Option<&Bound<'py, PyFeatureConfig>>,
) -> Bound<'py, PyArray2<f32>> {
    let c = config_of(config);
    let bank = MelFilterbank::new(&MelSpec {
        sample_rate: c.sample_rate,
        n_fft: c.n_fft,
        n_mels: c.n_mels,
        fmin: c.fmin,
        fmax: c.fmax_hz(),
        scale: c.mel_scale,
        norm: c.mel_norm,
    });
    let n_bins = c.n_fft / 2 + 1;
    Array2::from_shape_vec((c.n_mels, n_bins), bank.dense(n_bins))
        .expect("dense returns n_mels rows")
        .into_pyarray(py)
}

#[pymodule]
fn _mfcc_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AudioDecodeError", m.py().get_type::<AudioDecodeError>())?;
    m.add_class::<PyFeatureConfig>()?;
    m.add_class::<FeatureBatch>()?;
    m.add_class::<FileInfo>()?;
    m.add_class::<FileError>()?;
    m.add_class::<PyFeatureStream>()?;
    m.add_class::<PyFileWindows>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(resample, m)?)?;
    m.add_function(wrap_pyfunction!(mfcc, m)?)?;
    m.add_function(wrap_pyfunction!(featurize_signal, m)?)?;
    m.add_function(wrap_pyfunction!(featurize, m)?)?;
    m.add_function(wrap_pyfunction!(mel_filterbank, m)?)?;
    Ok(())
}
