//! The typed results of featurising files: [`FeatureBatch`] with its
//! [`FileInfo`] and [`FileError`] entries, and the streaming iterator.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use numpy::ndarray::Array1;
use numpy::{IntoPyArray, PyArray1, PyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use super::config::{fields_repr, PyFeatureConfig};
use super::{config_of, interruptible, to_py, windows_array};
use crate::audio::Segment;
use crate::batch::{thread_pool, Batch, FeatureStream, FileSummary, FileWindows, Source};
use crate::dsp::mfcc::Pipeline;
use crate::error::Error;

/// A segment as Python gives it: `(start, end)` in seconds, `end` None for
/// the end of the file.
pub(super) type PySegment = (f64, Option<f64>);

/// `segment` checked (a ValueError, `what` naming it, when it is not
/// `0 <= start < end`).
fn segment_of(segment: Option<PySegment>, what: &str) -> PyResult<Option<Segment>> {
    segment
        .map(|(start, end)| Segment::new(start, end))
        .transpose()
        .map_err(|e| match e {
            Error::Config(reason) => PyValueError::new_err(format!("{what}: {reason}")),
            other => to_py(other),
        })
}

/// The inputs of a call: `paths[i]`, or its segment `segments[i]` where
/// that is not None, read from `data[i]` where that is not None (the file
/// already in memory, `paths[i]` then only naming it).
pub(super) fn sources_of(
    paths: Vec<PathBuf>,
    segments: Option<Vec<Option<PySegment>>>,
    data: Option<Vec<Option<PyBackedBytes>>>,
) -> PyResult<Vec<Source>> {
    let n = paths.len();
    let per_path = |given: usize, name: &str, none: &str| {
        PyValueError::new_err(format!(
            "{given} {name} for {n} paths: give one per path (None {none})"
        ))
    };
    let segments = match segments {
        None => vec![None; n],
        Some(s) if s.len() == n => s,
        Some(s) => return Err(per_path(s.len(), "segments", "for a whole file")),
    };
    let data = match data {
        None => (0..n).map(|_| None).collect(),
        Some(d) if d.len() == n => d,
        Some(d) => return Err(per_path(d.len(), "data entries", "to read the file")),
    };
    paths
        .into_iter()
        .zip(segments.into_iter().zip(data))
        .enumerate()
        .map(|(i, (path, (segment, bytes)))| {
            Ok(Source {
                segment: segment_of(segment, &format!("segments[{i}]"))?,
                bytes: bytes.map(|b| Arc::from(&b[..])),
                path,
            })
        })
        .collect()
}

/// What one input file gave.
///
/// Attributes
/// ----------
/// path : str
/// duration_s : float
///     Seconds of decoded audio.
/// sample_rate : int
///     The file's own rate in Hz.
/// n_windows : int
///     Windows it gave.
/// note : str or None
///     Why a short file was dropped or padded.
/// error : str or None
///     Why the file could not be featurised (the other fields are then zero).
#[pyclass(frozen, eq, get_all, name = "FileInfo", module = "glam_py._mfcc_rs")]
#[derive(Clone, Debug, PartialEq)]
pub struct FileInfo {
    path: String,
    duration_s: f64,
    sample_rate: u32,
    n_windows: usize,
    note: Option<String>,
    error: Option<String>,
}

/// A file that could not be featurised.
///
/// Attributes
/// ----------
/// path : str
/// message : str
///     The problem, naming the file.
/// kind : str
///     "io" (unreadable) or "decode" (not usable audio).
#[pyclass(frozen, eq, get_all, name = "FileError", module = "glam_py._mfcc_rs")]
#[derive(Clone, Debug, PartialEq)]
pub struct FileError {
    path: String,
    message: String,
    /// "io" (unreadable) or "decode" (not usable audio).
    kind: &'static str,
}

#[pymethods]
impl FileInfo {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let attr = |name| (name, slf.getattr(name));
        fields_repr(
            "FileInfo",
            [
                "path",
                "duration_s",
                "sample_rate",
                "n_windows",
                "note",
                "error",
            ]
            .map(attr),
        )
    }
}

#[pymethods]
impl FileError {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let attr = |name| (name, slf.getattr(name));
        fields_repr("FileError", ["path", "message", "kind"].map(attr))
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

/// The [`FileInfo`] of a file's outcome.
fn file_info(path: &Path, result: std::result::Result<&FileSummary, &Error>) -> FileInfo {
    let path = path.to_string_lossy().into_owned();
    match result {
        Ok(s) => FileInfo {
            path,
            duration_s: s.duration_s,
            sample_rate: s.original_sample_rate,
            n_windows: s.n_windows,
            note: s.note.clone(),
            error: None,
        },
        Err(e) => FileInfo {
            path,
            duration_s: 0.0,
            sample_rate: 0,
            n_windows: 0,
            note: None,
            error: Some(e.to_string()),
        },
    }
}

/// Windows of many files; ``len()`` is the number of windows.
///
/// Attributes
/// ----------
/// windows : numpy.ndarray
///     ``[n_windows, n_features, n_frames]`` float32, the buffer Rust filled.
/// file_index : numpy.ndarray
///     ``[n_windows]`` int64: ``windows[i]`` came from input file
///     ``file_index[i]``, counted from the first path of the whole call (also
///     in the batches of a stream), i.e. ``files[file_index[i] - first_file]``.
/// files : list of FileInfo
///     One per input file of the batch, in input order.
/// errors : list of FileError
///     The files that could not be featurised.
/// first_file : int
///     Input position of ``files[0]``.
#[pyclass(frozen, name = "FeatureBatch", module = "glam_py._mfcc_rs")]
pub struct FeatureBatch {
    windows: Py<PyArray3<f32>>,
    file_index: Py<PyArray1<i64>>,
    files: Vec<Py<FileInfo>>,
    errors: Vec<Py<FileError>>,
    first_file: usize,
    n_windows: usize,
}

impl FeatureBatch {
    /// `all` is the whole input list the batch's positions refer to.
    pub(super) fn new(py: Python<'_>, batch: Batch, all: &[Source]) -> PyResult<Self> {
        let mut files = Vec::with_capacity(batch.files.len());
        let mut errors = Vec::new();
        for (result, source) in batch.files.into_iter().zip(&all[batch.first_file..]) {
            let info = file_info(&source.path, result.as_ref());
            if let Err(e) = result {
                errors.push(Py::new(
                    py,
                    FileError {
                        path: info.path.clone(),
                        message: e.to_string(),
                        kind: kind(&e),
                    },
                )?);
            }
            files.push(Py::new(py, info)?);
        }
        let n_windows = batch.file_index.len();
        Ok(FeatureBatch {
            n_windows,
            windows: windows_array(py, batch.windows, batch.n_features, batch.n_frames).unbind(),
            file_index: Array1::from_vec(batch.file_index).into_pyarray(py).unbind(),
            files,
            errors,
            first_file: batch.first_file,
        })
    }
}

#[pymethods]
impl FeatureBatch {
    /// `[n_windows, n_features, n_frames]` float32, the buffer Rust filled.
    #[getter]
    fn windows(&self, py: Python<'_>) -> Py<PyArray3<f32>> {
        self.windows.clone_ref(py)
    }
    /// `[n_windows]` int64: the input position of each window's file.
    #[getter]
    fn file_index(&self, py: Python<'_>) -> Py<PyArray1<i64>> {
        self.file_index.clone_ref(py)
    }
    /// One entry per input file of the batch, in input order.
    #[getter]
    fn files(&self, py: Python<'_>) -> Vec<Py<FileInfo>> {
        self.files.iter().map(|f| f.clone_ref(py)).collect()
    }
    /// The files that could not be featurised.
    #[getter]
    fn errors(&self, py: Python<'_>) -> Vec<Py<FileError>> {
        self.errors.iter().map(|e| e.clone_ref(py)).collect()
    }
    /// Input position of `files[0]`.
    #[getter]
    fn first_file(&self) -> usize {
        self.first_file
    }

    /// Number of windows.
    fn __len__(&self) -> usize {
        self.n_windows
    }

    fn __repr__(&self) -> String {
        format!(
            "FeatureBatch({} windows of {} files from file {}, {} errors)",
            self.n_windows,
            self.files.len(),
            self.first_file,
            self.errors.len()
        )
    }
}

/// Iterator of :class:`FeatureBatch`, one per chunk of consecutive files.
///
/// Each step featurises one chunk with the GIL released; Ctrl-C stops it
/// (KeyboardInterrupt) and the interrupted chunk is redone by the next step.
///
/// Parameters
/// ----------
/// paths : list of str or os.PathLike
/// config : FeatureConfig or None, default None
///     None: ``FeatureConfig()``.
/// threads : int or None, default None
///     Worker threads; None: all cores.
/// files_per_chunk : int, default 256
/// segments : list of (float, float or None) or None, or None, default None
///     Per path, the ``(start, end)`` seconds to read (``end`` None: to the
///     end), or None for the whole file; None: every file whole.
///
/// Raises
/// ------
/// ValueError
///     ``threads`` or ``files_per_chunk`` is 0, or a segment is not
///     ``0 <= start < end`` or ``segments`` has not one entry per path.
#[pyclass(name = "FeatureStream", module = "glam_py._mfcc_rs")]
pub struct PyFeatureStream {
    inner: FeatureStream,
}

#[pymethods]
impl PyFeatureStream {
    #[new]
    #[pyo3(signature = (paths, config=None, threads=None, files_per_chunk=256, segments=None))]
    fn new(
        paths: Vec<PathBuf>,
        config: Option<&Bound<'_, PyFeatureConfig>>,
        threads: Option<usize>,
        files_per_chunk: usize,
        segments: Option<Vec<Option<PySegment>>>,
    ) -> PyResult<Self> {
        let sources = sources_of(paths, segments, None)?;
        let inner = FeatureStream::new(&config_of(config), sources, threads, files_per_chunk)
            .map_err(to_py)?;
        Ok(PyFeatureStream { inner })
    }

    /// Number of input files.
    fn __len__(&self) -> usize {
        self.inner.n_files()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> PyResult<Option<FeatureBatch>> {
        let stream = &mut slf.inner;
        let batch = interruptible(py, |cancel| match stream.next_until(cancel) {
            None => Some(None),
            Some(batch) => batch.map(Some),
        })?;
        batch
            .map(|b| FeatureBatch::new(py, b, slf.inner.sources()))
            .transpose()
    }
}

/// Iterator of the windows of one audio file, a chunk at a time: the file
/// is decoded, resampled and cut as it is read, so memory stays bounded by
/// the chunk however long the recording. The chunks joined are bit for bit
/// the file's windows from ``featurize``.
///
/// Each step yields ``[n, n_features, n_frames]`` float32 windows, ``n`` at
/// most ``windows_per_chunk`` (fewer only at the end), computed with the GIL
/// released on ``threads`` threads; Ctrl-C stops it (KeyboardInterrupt) and
/// the next step goes on where it stopped. A file that cannot be read ends
/// the iteration: ``info.error`` then says why, and chunks already yielded
/// (before a truncated end, say) are not the file's windows.
///
/// Parameters
/// ----------
/// path : str or os.PathLike
/// config : FeatureConfig or None, default None
///     None: ``FeatureConfig()``.
/// threads : int or None, default None
///     Worker threads; None: all cores.
/// windows_per_chunk : int, default 1024
/// segment : (float, float or None) or None, default None
///     The ``(start, end)`` seconds to read (``end`` None: to the end);
///     None: the whole file.
///
/// Attributes
/// ----------
/// info : FileInfo or None
///     What the file gave, once the iteration has ended; None before.
///
/// Raises
/// ------
/// ValueError
///     ``threads`` or ``windows_per_chunk`` is 0, or the segment is not
///     ``0 <= start < end``.
#[pyclass(name = "FileWindows", module = "glam_py._mfcc_rs")]
pub struct PyFileWindows {
    pipe: Arc<Pipeline>,
    pool: Arc<rayon::ThreadPool>,
    inner: FileWindows,
    windows_per_chunk: usize,
}

#[pymethods]
impl PyFileWindows {
    #[new]
    #[pyo3(signature = (path, config=None, threads=None, windows_per_chunk=1024, segment=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        config: Option<&Bound<'_, PyFeatureConfig>>,
        threads: Option<usize>,
        windows_per_chunk: usize,
        segment: Option<PySegment>,
    ) -> PyResult<Self> {
        let segment = segment_of(segment, "segment")?;
        if windows_per_chunk == 0 {
            return Err(to_py(Error::Config(
                "windows_per_chunk must be at least 1".into(),
            )));
        }
        let config = config_of(config);
        let pipe = Pipeline::shared(&config).map_err(to_py)?;
        let pool = thread_pool(threads).map_err(to_py)?;
        let inner = py.detach(|| FileWindows::open_segment(&config, &path, segment));
        Ok(PyFileWindows {
            pipe,
            pool,
            inner,
            windows_per_chunk,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        mut slf: PyRefMut<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, PyArray3<f32>>>> {
        let this = &mut *slf;
        let (pipe, pool, max) = (&this.pipe, &this.pool, this.windows_per_chunk);
        let file = &mut this.inner;
        let windows = interruptible(py, |cancel| {
            let mut out = Vec::new();
            file.next_until(pipe, pool, max, &mut out, cancel)
                .map(|_| out)
        })?;
        if windows.is_empty() {
            return Ok(None);
        }
        let config = this.pipe.config();
        Ok(Some(windows_array(
            py,
            windows,
            config.n_features(),
            config.n_frames(),
        )))
    }

    /// What the file gave, once the iteration has ended; None before.
    #[getter]
    fn info(&self) -> Option<FileInfo> {
        self.inner
            .outcome()
            .map(|outcome| file_info(self.inner.path(), outcome.as_ref()))
    }

    fn __repr__(&self) -> String {
        format!("FileWindows({:?})", self.inner.path())
    }
}
