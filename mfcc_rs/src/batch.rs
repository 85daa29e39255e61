//! Many files at once: decode, resample, window and featurise them in
//! parallel, one bad file never costing the others. [`FeatureStream`] does
//! the same chunk by chunk, so memory stays bounded by the chunk size however
//! large the corpus. Both stop early when a caller's cancel flag is set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::audio;
use crate::config::FeatureConfig;
use crate::dsp::mfcc::{Pipeline, Scratch};
use crate::error::{Error, Result};
use crate::featurize::featurize_utterance;

/// What one file gave.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    /// Duration of the decoded audio in seconds.
    pub duration_s: f64,
    pub original_sample_rate: u32,
    pub n_windows: usize,
    pub note: Option<String>,
}

/// The windows of a run of consecutive files. `file_index` and errors refer
/// to positions in the whole input list, so the batches of a stream can be
/// concatenated without renumbering.
pub struct Batch {
    pub n_features: usize,
    pub n_frames: usize,
    /// `[n_windows, n_features, n_frames]`, row-major.
    pub windows: Vec<f32>,
    pub file_index: Vec<i64>,
    /// Position of `files[0]` in the input list.
    pub first_file: usize,
    pub files: Vec<Result<FileSummary>>,
}

impl Batch {
    pub fn n_windows(&self) -> usize {
        self.file_index.len()
    }
}

/// The process the pools were started in, and its pools by thread count.
type PoolsOfProcess = (u32, HashMap<usize, Arc<ThreadPool>>);

/// A pool of exactly `threads` workers (all cores when `None`), started on
/// first use and reused by every later call with the same count: starting
/// threads for every call costs more than featurising a short file.
pub fn thread_pool(threads: Option<usize>) -> Result<Arc<ThreadPool>> {
    let threads = match threads {
        Some(0) => return Err(Error::Config("threads must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // Keyed by process too: a forked child has the parent's pools but none
    // of their threads, and a job sent there would wait forever.
    static POOLS: OnceLock<Mutex<PoolsOfProcess>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if pools.0 != pid {
        // Dropping would signal workers that do not exist in this process.
        std::mem::forget(std::mem::take(&mut pools.1));
        pools.0 = pid;
    }
    if let Some(pool) = pools.1.get(&threads) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("mfcc_rs-{i}"))
        .build()
        .map_err(|e| Error::Config(format!("cannot start {threads} threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.1.insert(threads, pool.clone());
    Ok(pool)
}

fn featurize_file(
    pipe: &Pipeline,
    path: &Path,
    scratch: &mut Scratch,
) -> Result<(Vec<f32>, FileSummary)> {
    let config = pipe.config();
    let audio = audio::load(path, Some(config.sample_rate))?;
    let mut windows = Vec::new();
    let outcome = featurize_utterance(pipe, &audio.samples, scratch, &mut windows)
        .map_err(|e| Error::decode(path, e.to_string()))?;
    let summary = FileSummary {
        duration_s: audio.samples.len() as f64 / audio.sample_rate as f64,
        original_sample_rate: audio.original_sample_rate,
        n_windows: outcome.n_windows,
        note: outcome.note,
    };
    Ok((windows, summary))
}

/// Featurises `paths` on `pool`; `first_file` is the position of `paths[0]`
/// in the caller's whole list.
pub fn featurize_files(
    pipe: &Pipeline,
    pool: &ThreadPool,
    paths: &[PathBuf],
    first_file: usize,
) -> Batch {
    featurize_files_until(pipe, pool, paths, first_file, &AtomicBool::new(false))
        .expect("nothing sets the flag")
}

/// [`featurize_files`] that gives up, returning `None`, once `cancel` is
/// set: no file starts after that, so it returns within one file's time.
pub fn featurize_files_until(
    pipe: &Pipeline,
    pool: &ThreadPool,
    paths: &[PathBuf],
    first_file: usize,
    cancel: &AtomicBool,
) -> Option<Batch> {
    let per_file: Vec<Result<(Vec<f32>, FileSummary)>> = pool.install(|| {
        paths
            .par_iter()
            .map_init(
                || pipe.scratch(),
                |scratch, path| {
                    (!cancel.load(Ordering::Relaxed)).then(|| featurize_file(pipe, path, scratch))
                },
            )
            .collect::<Option<_>>()
    })?;
    let config = pipe.config();
    let total: usize = per_file
        .iter()
        .map(|r| r.as_ref().map_or(0, |(w, _)| w.len()))
        .sum();
    let mut windows = Vec::with_capacity(total);
    let mut file_index = Vec::new();
    let files = per_file
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            result.map(|(w, summary)| {
                windows.extend_from_slice(&w);
                file_index.extend(std::iter::repeat_n(
                    (first_file + i) as i64,
                    summary.n_windows,
                ));
                summary
            })
        })
        .collect();
    Some(Batch {
        n_features: config.n_features(),
        n_frames: config.n_frames(),
        windows,
        file_index,
        first_file,
        files,
    })
}

/// Featurises a corpus `files_per_chunk` files at a time.
pub struct FeatureStream {
    pipe: Arc<Pipeline>,
    pool: Arc<ThreadPool>,
    paths: Vec<PathBuf>,
    files_per_chunk: usize,
    next: usize,
}

impl FeatureStream {
    pub fn new(
        config: &FeatureConfig,
        paths: Vec<PathBuf>,
        threads: Option<usize>,
        files_per_chunk: usize,
    ) -> Result<Self> {
        if files_per_chunk == 0 {
            return Err(Error::Config("files_per_chunk must be at least 1".into()));
        }
        Ok(FeatureStream {
            pipe: Pipeline::shared(config)?,
            pool: thread_pool(threads)?,
            paths,
            files_per_chunk,
            next: 0,
        })
    }

    pub fn n_files(&self) -> usize {
        self.paths.len()
    }

    /// The input list, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn config(&self) -> &FeatureConfig {
        self.pipe.config()
    }

    /// The next chunk, `None` at the end, or `Some(None)` when `cancel` was
    /// set; a cancelled chunk is featurised again by the next call.
    pub fn next_until(&mut self, cancel: &AtomicBool) -> Option<Option<Batch>> {
        if self.next >= self.paths.len() {
            return None;
        }
        let end = (self.next + self.files_per_chunk).min(self.paths.len());
        let batch = featurize_files_until(
            &self.pipe,
            &self.pool,
            &self.paths[self.next..end],
            self.next,
            cancel,
        );
        if batch.is_some() {
            self.next = end;
        }
        Some(batch)
    }
}

impl Iterator for FeatureStream {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        self.next_until(&AtomicBool::new(false))
            .map(|batch| batch.expect("nothing sets the flag"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_reported_and_the_rest_featurised() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_batch_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.wav");
        write_wav(&good, 16000, &vec![0.1; 40000]);
        let paths = vec![dir.join("missing.wav"), good.clone(), dir.clone()];
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let batch = featurize_files(&pipe, &thread_pool(Some(2)).unwrap(), &paths, 10);
        assert_eq!(batch.n_windows(), 2);
        assert_eq!(batch.file_index, vec![11, 11]);
        assert_eq!(batch.windows.len(), 2 * 26 * 63);
        let err = batch.files[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("missing.wav"), "{err}");
        assert!(batch.files[2].is_err());
        let summary = batch.files[1].as_ref().unwrap();
        assert_eq!(summary.original_sample_rate, 16000);
        assert!((summary.duration_s - 2.5).abs() < 1e-9);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stream_chunks_concatenate_to_one_batch() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_stream_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths: Vec<PathBuf> = (0..5)
            .map(|i| {
                let p = dir.join(format!("{i}.wav"));
                let y: Vec<f32> = (0..33000 + 7000 * i)
                    .map(|k| ((k * (i + 1)) as f32 * 0.01).sin() * 0.2)
                    .collect();
                write_wav(&p, 16000, &y);
                p
            })
            .collect();
        let config = FeatureConfig::default();
        let whole = featurize_files(
            &Pipeline::new(&config).unwrap(),
            &thread_pool(Some(1)).unwrap(),
            &paths,
            0,
        );
        let stream = FeatureStream::new(&config, paths, Some(2), 2).unwrap();
        let chunks: Vec<Batch> = stream.collect();
        assert_eq!(chunks.len(), 3);
        let windows: Vec<f32> = chunks.iter().flat_map(|b| b.windows.clone()).collect();
        let index: Vec<i64> = chunks.iter().flat_map(|b| b.file_index.clone()).collect();
        assert_eq!(windows, whole.windows);
        assert_eq!(index, whole.file_index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pools_are_reused_and_a_set_flag_stops_the_work() {
        let pool = thread_pool(Some(3)).unwrap();
        assert!(Arc::ptr_eq(&pool, &thread_pool(Some(3)).unwrap()));
        assert_eq!(pool.current_num_threads(), 3);
        assert!(thread_pool(Some(0)).is_err());
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let paths = vec![PathBuf::from("/nonexistent.wav"); 4];
        let cancelled = featurize_files_until(&pipe, &pool, &paths, 0, &AtomicBool::new(true));
        assert!(cancelled.is_none());
        let mut stream = FeatureStream::new(&FeatureConfig::default(), paths, Some(1), 3).unwrap();
        assert!(matches!(
            stream.next_until(&AtomicBool::new(true)),
            Some(None)
        ));
        // The cancelled chunk is not skipped.
        assert_eq!(stream.next().unwrap().first_file, 0);
        assert_eq!(stream.next().unwrap().first_file, 3);
        assert!(stream.next().is_none());
    }

    /// A 16-bit PCM mono WAV, written by hand to keep the core free of an
    /// encoder dependency.
    fn write_wav(path: &Path, rate: u32, samples: &[f32]) {
        let data: Vec<u8> = samples
            .iter()
            .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
            .collect();
        let mut bytes = Vec::new();
        bytes.extend(b"RIFF");
        bytes.extend((36 + data.len() as u32).to_le_bytes());
        bytes.extend(b"WAVEfmt ");
        bytes.extend(16u32.to_le_bytes());
        bytes.extend(1u16.to_le_bytes());
        bytes.extend(1u16.to_le_bytes());
        bytes.extend(rate.to_le_bytes());
        bytes.extend((rate * 2).to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(16u16.to_le_bytes());
        bytes.extend(b"data");
        bytes.extend((data.len() as u32).to_le_bytes());
        bytes.extend(data);
        std::fs::write(path, bytes).unwrap();
    }
}
