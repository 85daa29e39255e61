//! The PyO3 adapter: converts Python values to core types and back, runs the
//! heavy work with the GIL released, and maps [`Error`] to Python exceptions
//! in one place. No feature logic lives here.

use std::path::PathBuf;

use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::audio;
use crate::batch::{featurize_files, thread_pool, Batch, FeatureStream};
use crate::config::FeatureConfig;
use crate::dsp::mel::{MelFilterbank, MelSpec};
use crate::dsp::mfcc::Pipeline;
use crate::error::Error;
use crate::featurize::featurize_utterance;

pyo3::create_exception!(
    _mfcc_rs,
    AudioDecodeError,
    PyValueError,
    "A file was read but is not usable audio (not audio, truncated, unsupported encoding, no samples, NaN or infinite samples)."
);

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

/// Short name of the error's kind, for per-file error entries.
fn kind(err: &Error) -> &'static str {
    match err {
        Error::Io { .. } => "io",
        Error::Decode { .. } => "decode",
        Error::Signal(_) => "signal",
        Error::Config(_) => "config",
    }
}

fn parse_config(config_json: &str) -> PyResult<FeatureConfig> {
    FeatureConfig::from_json(config_json).map_err(to_py)
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

fn batch_dict<'py>(py: Python<'py>, batch: Batch) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let files = PyList::empty(py);
    let errors = PyList::empty(py);
    for (i, result) in batch.files.into_iter().enumerate() {
        match result {
            Ok(s) => files.append((s.duration_s, s.original_sample_rate, s.n_windows, s.note))?,
            Err(e) => {
                files.append(py.None())?;
                errors.append((batch.first_file + i, kind(&e), e.to_string()))?;
            }
        }
    }
    dict.set_item(
        "windows",
        windows_array(py, batch.windows, batch.n_features, batch.n_frames),
    )?;
    dict.set_item(
        "file_index",
        Array1::from_vec(batch.file_index).into_pyarray(py),
    )?;
    dict.set_item("first_file", batch.first_file)?;
    dict.set_item("files", files)?;
    dict.set_item("errors", errors)?;
    Ok(dict)
}

/// Checks a FeatureConfig JSON and returns it with every default filled in.
#[pyfunction]
fn normalize_config(config_json: &str) -> PyResult<String> {
    Ok(parse_config(config_json)?.to_json())
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
fn mfcc<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    config_json: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let pipe = Pipeline::shared_from_json(config_json).map_err(to_py)?;
    let samples = y.as_slice()?;
    let data = py
        .detach(|| pipe.features(samples, &mut pipe.scratch()))
        .map_err(to_py)?;
    let rows = pipe.config().n_features();
    Ok(Array2::from_shape_vec((rows, data.len() / rows), data)
        .expect("the core fills whole matrices")
        .into_pyarray(py))
}

/// Every window of one in-memory utterance: `(windows, note)`.
#[pyfunction]
fn featurize_signal<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    config_json: &str,
) -> PyResult<(Bound<'py, PyArray3<f32>>, Option<String>)> {
    let pipe = Pipeline::shared_from_json(config_json).map_err(to_py)?;
    let samples = y.as_slice()?;
    let (data, outcome) = py
        .detach(|| {
            let mut out = Vec::new();
            let outcome = featurize_utterance(&pipe, samples, &mut pipe.scratch(), &mut out)?;
            Ok::<_, Error>((out, outcome))
        })
        .map_err(to_py)?;
    let config = pipe.config();
    Ok((
        windows_array(py, data, config.n_features(), config.n_frames()),
        outcome.note,
    ))
}

/// Featurises files in parallel on `threads` threads with the GIL released.
#[pyfunction]
#[pyo3(signature = (paths, config_json, threads=None))]
fn featurize<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    config_json: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let pipe = Pipeline::shared_from_json(config_json).map_err(to_py)?;
    let batch = py
        .detach(|| Ok::<_, Error>(featurize_files(&pipe, &thread_pool(threads)?, &paths, 0)))
        .map_err(to_py)?;
    batch_dict(py, batch)
}

/// The librosa mel filterbank of a configuration, `[n_mels, 1 + n_fft / 2]`.
#[pyfunction]
fn mel_filterbank<'py>(py: Python<'py>, config_json: &str) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let c = parse_config(config_json)?;
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
    Ok(
        Array2::from_shape_vec((c.n_mels, n_bins), bank.dense(n_bins))
            .expect("dense returns n_mels rows")
            .into_pyarray(py),
    )
}

/// Iterator over batches of consecutive files; each `next` featurises one
/// chunk with the GIL released.
#[pyclass(name = "FeatureStream", module = "glam_py._mfcc_rs")]
struct PyFeatureStream {
    inner: FeatureStream,
}

#[pymethods]
impl PyFeatureStream {
    #[new]
    #[pyo3(signature = (paths, config_json, threads=None, files_per_chunk=256))]
    fn new(
        paths: Vec<PathBuf>,
        config_json: &str,
        threads: Option<usize>,
        files_per_chunk: usize,
    ) -> PyResult<Self> {
        let config = parse_config(config_json)?;
        let inner = FeatureStream::new(&config, paths, threads, files_per_chunk).map_err(to_py)?;
        Ok(PyFeatureStream { inner })
    }

    fn __len__(&self) -> usize {
        self.inner.n_files()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        mut slf: PyRefMut<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let stream = &mut slf.inner;
        match py.detach(|| stream.next()) {
            Some(batch) => Ok(Some(batch_dict(py, batch)?)),
            None => Ok(None),
        }
    }
}

#[pymodule]
fn _mfcc_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AudioDecodeError", m.py().get_type::<AudioDecodeError>())?;
    m.add_class::<PyFeatureStream>()?;
    m.add_function(wrap_pyfunction!(normalize_config, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(resample, m)?)?;
    m.add_function(wrap_pyfunction!(mfcc, m)?)?;
    m.add_function(wrap_pyfunction!(featurize_signal, m)?)?;
    m.add_function(wrap_pyfunction!(featurize, m)?)?;
    m.add_function(wrap_pyfunction!(mel_filterbank, m)?)?;
    Ok(())
}
