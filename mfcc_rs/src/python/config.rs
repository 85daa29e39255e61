//! `FeatureConfig` for Python: the core struct behind a frozen class, so
//! defaults, validation and derived sizes exist once, in the core.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::to_py;
use crate::config::{FeatureConfig, FIELDS};

/// Every setting of the feature frontend, immutable and hashable.
///
/// The defaults are the GLAM paper's test setting with librosa 0.10+ MFCC
/// defaults: 16 kHz, 26 MFCCs from 128 Slaney mel bands, n_fft 2048, hop
/// 512, 2 s windows overlapping by 1.6 s, utterances shorter than a window
/// dropped. ``FeatureConfig.fields()`` describes each field (type, default,
/// choices, help); the Rust crate owns the defaults, the validation and the
/// derived sizes.
///
/// Parameters
/// ----------
/// sample_rate : int, default 16000
///     Hz.
/// n_mfcc : int, default 26
/// n_mels : int, default 128
/// n_fft : int, default 2048
///     Samples; even.
/// hop_length : int, default 512
///     Samples between frames.
/// fmin : float, default 0.0
///     Hz.
/// fmax : float or None, default None
///     Hz; None: sample_rate / 2.
/// mel_scale : {"slaney", "htk"}, default "slaney"
/// mel_norm : {"slaney", "none"}, default "slaney"
/// top_db : float or None, default 80.0
///     dB; None: no clamp.
/// pad_mode : {"constant", "reflect"}, default "constant"
/// window_s : float, default 2.0
///     Seconds.
/// overlap_s : float, default 1.6
///     Seconds; shorter than window_s.
/// pad : {"drop", "tile", "zero", "repeat"}, default "drop"
/// output : {"mfcc", "log_mel"}, default "mfcc"
/// speed : float, default 1.0
///     Speed perturbation, 0.5 to 2: audio at rate r is resampled as if
///     its rate were r * speed (1 / speed as long, speed times the pitch).
/// augment : str, default ""
///     Channel augmentation of files: comma-separated effects among
///     "noise", "reverb", "eq", "telephone", "gain", "codec" (held in that
///     order, the order they are applied in); each file draws its chain
///     from its path and augment_copy. Empty or "none": none. In-memory signals
///     (``mfcc``, ``featurize_signal``) refuse it.
/// augment_copy : int, default 1
///     Which augmented copy, from 1; each draws other chains. 1 without
///     augment.
///
/// All keyword-only.
///
/// Raises
/// ------
/// ValueError
///     A value that cannot work or an unknown name; the message names the
///     field.
/// TypeError
///     A value that is not an int, float, str or None.
#[pyclass(frozen, name = "FeatureConfig", module = "glam_py._mfcc_rs")]
pub struct PyFeatureConfig {
    pub inner: FeatureConfig,
}

fn value_of(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    // Ints first (numpy's too, through __index__), so 16000 stays an integer.
    if v.is_instance_of::<PyInt>() || !v.is_instance_of::<PyFloat>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
    }
    match v.extract::<f64>() {
        Ok(x) => Number::from_f64(x).map(Value::Number).ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid feature configuration: {name} ({x}) must be a finite number"
            ))
        }),
        Err(_) => Err(PyTypeError::new_err(format!(
            "invalid feature configuration: {name}: expected an int, float, str or None, got {}",
            v.get_type().name()?
        ))),
    }
}

fn changes_of(values: Option<&Bound<'_, PyDict>>) -> PyResult<Map<String, Value>> {
    let mut changes = Map::new();
    for (k, v) in values.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!("FeatureConfig field names are str, got {k:?}"))
        })?;
        let value = value_of(&name, &v)?;
        changes.insert(name, value);
    }
    Ok(changes)
}

fn to_python<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (_, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(_) | Value::Object(_) => unreachable!("settings are scalars"),
    })
}

/// The serde name of a setting's variant, which is its Python value.
fn choice<T: Serialize>(variant: &T) -> String {
    match serde_json::to_value(variant) {
        Ok(Value::String(s)) => s,
        _ => unreachable!("choices serialise to strings"),
    }
}

/// `Name(a=1, b='x')`, the repr of a dataclass or NamedTuple.
pub(super) fn fields_repr<'py>(
    name: &str,
    fields: impl IntoIterator<Item = (&'static str, PyResult<Bound<'py, PyAny>>)>,
) -> PyResult<String> {
    let parts = fields
        .into_iter()
        .map(|(k, v)| Ok(format!("{k}={}", v?.repr()?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!("{name}({})", parts.join(", ")))
}

impl PyFeatureConfig {
    fn with(&self, changes: Map<String, Value>) -> PyResult<Self> {
        let inner = self.inner.clone().with_values(changes).map_err(to_py)?;
        Ok(PyFeatureConfig { inner })
    }
}

#[pymethods]
impl PyFeatureConfig {
    /// Keyword arguments only; every field left out takes its default.
    #[new]
    #[pyo3(signature = (**values))]
    fn new(values: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let default = PyFeatureConfig {
            inner: FeatureConfig::default(),
        };
        default.with(changes_of(values)?)
    }

    #[getter]
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate
    }
    #[getter]
    fn n_mfcc(&self) -> usize {
        self.inner.n_mfcc
    }
    #[getter]
    fn n_mels(&self) -> usize {
        self.inner.n_mels
    }
    #[getter]
    fn n_fft(&self) -> usize {
        self.inner.n_fft
    }
    #[getter]
    fn hop_length(&self) -> usize {
        self.inner.hop_length
    }
    #[getter]
    fn fmin(&self) -> f64 {
        self.inner.fmin
    }
    #[getter]
    fn fmax(&self) -> Option<f64> {
        self.inner.fmax
    }
    #[getter]
    fn mel_scale(&self) -> String {
        choice(&self.inner.mel_scale)
    }
    #[getter]
    fn mel_norm(&self) -> String {
        choice(&self.inner.mel_norm)
    }
    #[getter]
    fn top_db(&self) -> Option<f64> {
        self.inner.top_db
    }
    #[getter]
    fn pad_mode(&self) -> String {
        choice(&self.inner.pad_mode)
    }
    #[getter]
    fn window_s(&self) -> f64 {
        self.inner.window_s
    }
    #[getter]
    fn overlap_s(&self) -> f64 {
        self.inner.overlap_s
    }
    #[getter]
    fn pad(&self) -> String {
        choice(&self.inner.pad)
    }
    #[getter]
    fn output(&self) -> String {
        choice(&self.inner.output)
    }
    #[getter]
    fn speed(&self) -> f64 {
        self.inner.speed
    }
    #[getter]
    fn augment(&self) -> String {
        self.inner.augment.to_string()
    }
    #[getter]
    fn augment_copy(&self) -> u32 {
        self.inner.augment_copy
    }

    /// Window length in samples.
    #[getter]
    fn window_length(&self) -> usize {
        self.inner.window_len()
    }
    /// Samples between consecutive window starts.
    #[getter]
    fn window_hop(&self) -> usize {
        self.inner.window_hop()
    }
    /// Frames of one window (63 for the paper's 2 s windows).
    #[getter]
    fn n_frames(&self) -> usize {
        self.inner.n_frames()
    }
    /// Rows of one window's matrix: MFCCs, or mel bands for log-mel output.
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    /// Every field as `{name: value}`, in declaration order.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.inner.values() {
            dict.set_item(name, to_python(py, &value)?)?;
        }
        Ok(dict)
    }

    /// A configuration from `{name: value}`; missing names take defaults.
    #[classmethod]
    fn from_dict(_cls: &Bound<'_, PyType>, values: &Bound<'_, PyDict>) -> PyResult<Self> {
        Self::new(Some(values))
    }

    /// Compact JSON, fields in declaration order.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// A configuration from a JSON object; missing names take defaults.
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
        let inner = FeatureConfig::from_json(text).map_err(to_py)?;
        Ok(PyFeatureConfig { inner })
    }

    /// A copy with `changes` applied (and validated).
    #[pyo3(signature = (**changes))]
    fn replace(&self, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        self.with(changes_of(changes)?)
    }

    /// Fields whose values differ, as `{name: (self's, other's)}`.
    fn differences<'py>(
        &self,
        py: Python<'py>,
        other: &Bound<'py, PyFeatureConfig>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for ((name, mine), (_, theirs)) in self
            .inner
            .values()
            .into_iter()
            .zip(other.get().inner.values())
        {
            if mine != theirs {
                dict.set_item(name, (to_python(py, &mine)?, to_python(py, &theirs)?))?;
            }
        }
        Ok(dict)
    }

    /// One dict per field, in declaration order: name, type ("int", "float"
    /// or "str"), optional (None allowed), default, choices (or None), help.
    #[staticmethod]
    fn fields<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (spec, (_, default)) in FIELDS.iter().zip(FeatureConfig::default().values()) {
            let dict = PyDict::new(py);
            dict.set_item("name", spec.name)?;
            dict.set_item("type", spec.kind.name())?;
            dict.set_item("optional", spec.optional)?;
            dict.set_item("default", to_python(py, &default)?)?;
            dict.set_item("choices", spec.choices.map(|c| c.to_vec()))?;
            dict.set_item("help", spec.help)?;
            list.append(dict)?;
        }
        Ok(list)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for (name, value) in self.inner.values() {
            name.hash(&mut h);
            match value.as_f64() {
                // Equal floats hash alike: -0.0 == 0.0, and 2 == 2.0.
                Some(x) => (x + 0.0).to_bits().hash(&mut h),
                None => value.to_string().hash(&mut h),
            }
        }
        h.finish()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let values = slf.get().inner.values();
        fields_repr(
            "FeatureConfig",
            values.iter().map(|(name, v)| (*name, to_python(py, v))),
        )
    }

    /// Pickles as its JSON text.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let rebuild = slf.get_type().getattr("from_json")?;
        Ok((rebuild, PyTuple::new(slf.py(), [slf.get().to_json()])?))
    }

    /// Immutable: a copy is the object itself.
    fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
        slf
    }
}
