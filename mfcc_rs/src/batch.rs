//! Many files at once: decode, resample, window and featurise them in
//! parallel, one bad file never costing the others. [`FeatureStream`] does
//! the same chunk by chunk, so memory stays bounded by the chunk size however
//! large the corpus.

use std::path::{Path, PathBuf};

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

/// A pool of exactly `threads` workers (all cores when `None`).
pub fn thread_pool(threads: Option<usize>) -> Result<ThreadPool> {
    let threads = match threads {
        Some(0) => return Err(Error::Config("threads must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("mfcc_rs-{i}"))
        .build()
        .map_err(|e| Error::Config(format!("cannot start {threads} threads: {e}")))
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
    let per_file: Vec<Result<(Vec<f32>, FileSummary)>> = pool.install(|| {
        paths
            .par_iter()
            .map_init(
                || pipe.scratch(),
                |scratch, path| featurize_file(pipe, path, scratch),
            )
            .collect()
    });
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
    Batch {
        n_features: config.n_features(),
        n_frames: config.n_frames(),
        windows,
        file_index,
        first_file,
        files,
    }
}

/// Featurises a corpus `files_per_chunk` files at a time.
pub struct FeatureStream {
    pipe: Pipeline,
    pool: ThreadPool,
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
            pipe: Pipeline::new(config)?,
            pool: thread_pool(threads)?,
            paths,
            files_per_chunk,
            next: 0,
        })
    }

    pub fn n_files(&self) -> usize {
        self.paths.len()
    }
}

impl Iterator for FeatureStream {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.paths.len() {
            return None;
        }
        let end = (self.next + self.files_per_chunk).min(self.paths.len());
        let batch = featurize_files(
            &self.pipe,
            &self.pool,
            &self.paths[self.next..end],
            self.next,
        );
        self.next = end;
        Some(batch)
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
