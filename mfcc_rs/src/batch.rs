//! Many files at once: decode, resample, window and featurise them in
//! parallel, one bad file never costing the others. [`FeatureStream`] does
//! the same chunk by chunk, so memory stays bounded by the chunk size however
//! large the corpus. Both stop early when a caller's cancel flag is set.
//! An input may be a segment of a recording ([`Source`]): many segments of
//! one long file are featurised in parallel like files, each seeking to
//! its start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::audio::{self, Segment};
use crate::augment::Chain;
use crate::config::FeatureConfig;
use crate::dsp::mfcc::Pipeline;
use crate::error::{Error, Result};
use crate::featurize::WindowCutter;

/// One input: a file, or a segment of one.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub path: PathBuf,
    /// The part of the file read; all of it when `None`.
    pub segment: Option<Segment>,
    /// The file's bytes when it is already in memory (a dataset's audio):
    /// decoded from them, `path` then only naming it. Shared, so a batch's
    /// sources can be listed and cloned without copying audio.
    pub bytes: Option<Arc<[u8]>>,
}

impl From<PathBuf> for Source {
    fn from(path: PathBuf) -> Self {
        Source {
            path,
            segment: None,
            bytes: None,
        }
    }
}

impl Source {
    fn open(&self, config: &FeatureConfig) -> FileWindows {
        match &self.bytes {
            None => FileWindows::open_segment(config, &self.path, self.segment),
            Some(bytes) => FileWindows::from_bytes(config, &self.path, bytes.clone(), self.segment),
        }
    }
}

/// What one file (or segment) gave.
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

/// The windows of one file, a chunk at a time: decoded, resampled and cut
/// as it is read, so memory stays bounded by the chunk however long the
/// recording. The chunks joined are bit for bit what [`featurize_files`]
/// gives for the file.
///
/// With channel augmentation (`config.augment`) the file is read whole
/// before it is cut: the noise's level is set by the whole utterance's, so
/// memory grows with the recording (4 bytes a sample at the configured
/// rate: 230 MB for an hour at 16 kHz), which training corpora's
/// utterances, seconds long, never notice.
pub struct FileWindows {
    path: PathBuf,
    /// `None` once the file has been read to its end.
    reader: Option<audio::AudioReader>,
    /// The file's augmentation, if any.
    chain: Option<Chain>,
    original_sample_rate: u32,
    cutter: WindowCutter,
    samples: Vec<f32>,
    /// What the file gave, once it is done.
    outcome: Option<Result<FileSummary>>,
}

impl FileWindows {
    /// Opens `path` to be read at `config.sample_rate` and `config.speed`;
    /// a file that cannot be opened is done at once, with its error as the
    /// outcome.
    pub fn open(config: &FeatureConfig, path: &Path) -> Self {
        Self::open_segment(config, path, None)
    }

    /// [`FileWindows::open`] for `segment` of the file (all of it when
    /// `None`): the windows of the segment alone, as if it were a file.
    pub fn open_segment(config: &FeatureConfig, path: &Path, segment: Option<Segment>) -> Self {
        let opened =
            audio::AudioReader::open_segment(path, Some(config.sample_rate), config.speed, segment);
        Self::start(config, path, opened)
    }

    /// [`FileWindows::open_segment`] for a file already in memory; `path`
    /// names it in errors (and its extension, if any, hints the format).
    pub fn from_bytes(
        config: &FeatureConfig,
        path: &Path,
        bytes: Arc<[u8]>,
        segment: Option<Segment>,
    ) -> Self {
        let hint = path.extension().and_then(|e| e.to_str());
        let opened = audio::AudioReader::from_bytes(
            bytes,
            hint,
            path,
            Some(config.sample_rate),
            config.speed,
            segment,
        );
        Self::start(config, path, opened)
    }

    fn start(config: &FeatureConfig, path: &Path, opened: Result<audio::AudioReader>) -> Self {
        let (reader, outcome) = match opened {
            Ok(reader) => (Some(reader), None),
            Err(e) => (None, Some(Err(e))),
        };
        FileWindows {
            path: path.to_path_buf(),
            original_sample_rate: reader.as_ref().map_or(0, |r| r.original_sample_rate()),
            reader,
            chain: Chain::for_file(
                config.augment,
                config.augment_copy,
                path,
                config.sample_rate,
            ),
            cutter: WindowCutter::new(),
            samples: Vec::new(),
            outcome,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file gave, once it is done: its summary, or why it could
    /// not be featurised (windows given before a late error, such as a
    /// truncated end, are then to be discarded).
    pub fn outcome(&self) -> Option<&Result<FileSummary>> {
        self.outcome.as_ref()
    }

    /// Appends up to `max` more windows to `out` (fewer only at the end of
    /// the file) and returns their count; `None`, with nothing appended or
    /// lost, once `cancel` is set.
    pub fn next_until(
        &mut self,
        pipe: &Pipeline,
        pool: &ThreadPool,
        max: usize,
        out: &mut Vec<f32>,
        cancel: &AtomicBool,
    ) -> Option<usize> {
        let config = pipe.config();
        loop {
            if self.outcome.is_some() {
                return Some(0);
            }
            let ready = self.cutter.ready(config);
            if ready >= max || (ready > 0 && self.reader.is_none()) {
                return Some(self.cutter.cut(pipe, pool, max, out));
            }
            let Some(reader) = self.reader.as_mut() else {
                return Some(self.finish(pipe, out));
            };
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            self.samples.clear();
            let read = match &self.chain {
                None => reader.read(&mut self.samples),
                Some(chain) => read_whole(reader, &mut self.samples).map(|()| {
                    chain.apply(&mut self.samples, config.sample_rate);
                    true
                }),
            };
            match read {
                Ok(true) => {
                    self.cutter.push(&self.samples);
                    if self.chain.is_some() {
                        // All of it was read, and the cutter holds a copy.
                        self.reader = None;
                        self.samples = Vec::new();
                    }
                }
                Ok(false) => self.reader = None,
                Err(e) => {
                    self.reader = None;
                    self.outcome = Some(Err(e));
                }
            }
        }
    }

    fn finish(&mut self, pipe: &Pipeline, out: &mut Vec<f32>) -> usize {
        let config = pipe.config();
        let cutter = std::mem::take(&mut self.cutter);
        let n_samples = cutter.n_samples();
        let at = out.len();
        let windows = cutter.finish(pipe, &mut pipe.scratch(), out);
        self.outcome = Some(Ok(FileSummary {
            duration_s: n_samples as f64 / config.sample_rate as f64,
            original_sample_rate: self.original_sample_rate,
            n_windows: windows.n_windows,
            note: windows.note,
        }));
        (out.len() - at) / (config.n_features() * config.n_frames())
    }
}

/// Every remaining sample of `reader` appended to `out`.
fn read_whole(reader: &mut audio::AudioReader, out: &mut Vec<f32>) -> Result<()> {
    while reader.read(out)? {}
    Ok(())
}

/// Windows cut per step when a whole file's windows are collected.
const WINDOWS_PER_STEP: usize = 256;

fn featurize_file(
    pipe: &Pipeline,
    pool: &ThreadPool,
    source: &Source,
) -> Result<(Vec<f32>, FileSummary)> {
    let mut file = source.open(pipe.config());
    let mut windows = Vec::new();
    let never = AtomicBool::new(false);
    while file.outcome().is_none() {
        // Cutting as it goes keeps only a window's worth of samples.
        file.next_until(pipe, pool, WINDOWS_PER_STEP, &mut windows, &never);
    }
    let outcome = file.outcome.take().expect("the loop ends when done");
    outcome.map(|summary| (windows, summary))
}

/// Featurises `sources` on `pool`; `first_file` is the position of
/// `sources[0]` in the caller's whole list.
pub fn featurize_files(
    pipe: &Pipeline,
    pool: &ThreadPool,
    sources: &[Source],
    first_file: usize,
) -> Batch {
    featurize_files_until(pipe, pool, sources, first_file, &AtomicBool::new(false))
        .expect("nothing sets the flag")
}

/// [`featurize_files`] that gives up, returning `None`, once `cancel` is
/// set: no file starts after that, so it returns within one file's time.
pub fn featurize_files_until(
    pipe: &Pipeline,
    pool: &ThreadPool,
    sources: &[Source],
    first_file: usize,
    cancel: &AtomicBool,
) -> Option<Batch> {
    let per_file: Vec<Result<(Vec<f32>, FileSummary)>> = pool.install(|| {
        sources
            .par_iter()
            .map(|source| {
                (!cancel.load(Ordering::Relaxed)).then(|| featurize_file(pipe, pool, source))
            })
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

/// Featurises a corpus `files_per_chunk` files (or segments) at a time.
pub struct FeatureStream {
    pipe: Arc<Pipeline>,
    pool: Arc<ThreadPool>,
    sources: Vec<Source>,
    files_per_chunk: usize,
    next: usize,
}

impl FeatureStream {
    pub fn new(
        config: &FeatureConfig,
        sources: Vec<Source>,
        threads: Option<usize>,
        files_per_chunk: usize,
    ) -> Result<Self> {
        if files_per_chunk == 0 {
            return Err(Error::Config("files_per_chunk must be at least 1".into()));
        }
        Ok(FeatureStream {
            pipe: Pipeline::shared(config)?,
            pool: thread_pool(threads)?,
            sources,
            files_per_chunk,
            next: 0,
        })
    }

    pub fn n_files(&self) -> usize {
        self.sources.len()
    }

    /// The input list, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    pub fn config(&self) -> &FeatureConfig {
        self.pipe.config()
    }

    /// The next chunk, `None` at the end, or `Some(None)` when `cancel` was
    /// set; a cancelled chunk is featurised again by the next call.
    pub fn next_until(&mut self, cancel: &AtomicBool) -> Option<Option<Batch>> {
        if self.next >= self.sources.len() {
            return None;
        }
        let end = (self.next + self.files_per_chunk).min(self.sources.len());
        let batch = featurize_files_until(
            &self.pipe,
            &self.pool,
            &self.sources[self.next..end],
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

    fn sources(paths: &[PathBuf]) -> Vec<Source> {
        paths.iter().cloned().map(Source::from).collect()
    }

    #[test]
    fn missing_files_are_reported_and_the_rest_featurised() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_batch_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.wav");
        write_wav(&good, 16000, &vec![0.1; 40000]);
        let paths = vec![dir.join("missing.wav"), good.clone(), dir.clone()];
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let batch = featurize_files(&pipe, &thread_pool(Some(2)).unwrap(), &sources(&paths), 10);
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
    fn files_in_memory_give_the_windows_of_the_same_files_on_disk() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_bytes_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.wav");
        let y: Vec<f32> = (0..70000).map(|k| (k as f32 * 0.02).sin() * 0.3).collect();
        write_wav(&good, 22050, &y);
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let pool = thread_pool(Some(2)).unwrap();
        let file = Source::from(good.clone());
        let on_disk = featurize_files(&pipe, &pool, std::slice::from_ref(&file), 0);
        let wav: Arc<[u8]> = std::fs::read(&good).unwrap().into();
        let in_memory = |path: &str, bytes: Arc<[u8]>, segment| Source {
            path: PathBuf::from(path),
            segment,
            bytes: Some(bytes),
        };
        let part = Some(Segment::new(0.5, Some(2.75)).unwrap());
        let sources = vec![
            in_memory("ds.arrow#audio/0", wav.clone(), None),
            in_memory(
                "ds.arrow#audio/1",
                Arc::from(&b"not audio at all"[..]),
                None,
            ),
            file,
            in_memory("ds.arrow#audio/3", wav, part),
        ];
        let segment_on_disk = Source {
            segment: part,
            ..Source::from(good.clone())
        };
        let cut = featurize_files(&pipe, &pool, std::slice::from_ref(&segment_on_disk), 0);
        let never = AtomicBool::new(false);
        let batch = featurize_files_until(&pipe, &pool, &sources, 5, &never).unwrap();
        let n = on_disk.n_windows();
        assert!(n > 0 && cut.n_windows() > 0 && cut.n_windows() < n);
        let whole = on_disk.windows.len();
        assert_eq!(batch.windows[..whole], on_disk.windows);
        assert_eq!(batch.windows[whole..2 * whole], on_disk.windows);
        assert_eq!(batch.windows[2 * whole..], cut.windows);
        assert_eq!(
            batch.file_index,
            [vec![5; n], vec![7; n], vec![8; cut.n_windows()]].concat()
        );
        assert_eq!(
            batch.files[0].as_ref().unwrap(),
            on_disk.files[0].as_ref().unwrap()
        );
        let err = batch.files[1].as_ref().unwrap_err().to_string();
        assert!(err.starts_with("ds.arrow#audio/1: "), "{err}");
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
            &sources(&paths),
            0,
        );
        let stream = FeatureStream::new(&config, sources(&paths), Some(2), 2).unwrap();
        let chunks: Vec<Batch> = stream.collect();
        assert_eq!(chunks.len(), 3);
        let windows: Vec<f32> = chunks.iter().flat_map(|b| b.windows.clone()).collect();
        let index: Vec<i64> = chunks.iter().flat_map(|b| b.file_index.clone()).collect();
        assert_eq!(windows, whole.windows);
        assert_eq!(index, whole.file_index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_in_chunks_gives_the_whole_files_windows() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_chunks_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = thread_pool(Some(2)).unwrap();
        let reflect = FeatureConfig {
            pad_mode: crate::config::PadMode::Reflect,
            ..FeatureConfig::default()
        };
        let tile = FeatureConfig {
            pad: crate::config::ShortPolicy::Tile,
            ..FeatureConfig::default()
        };
        let at_speed = |speed| FeatureConfig {
            speed,
            ..FeatureConfig::default()
        };
        let augmented = |speed| FeatureConfig {
            augment: crate::augment::Effects::parse("reverb,noise,eq,telephone,gain,codec")
                .unwrap(),
            augment_copy: 2,
            ..at_speed(speed)
        };
        // 16 kHz streams as it is; 44.1 and 8 kHz go through the resampler
        // in blocks, 11.025 kHz is short enough to be resampled whole. A
        // speed makes 16 kHz go through it too (from 14.4 or 17.6 kHz), and
        // 11.025 kHz at 0.9 from a rounded 9923 Hz.
        for (rate, seconds, config) in [
            (16000, 30.3, FeatureConfig::default()),
            (16000, 12.0, reflect),
            (44100, 9.7, FeatureConfig::default()),
            (8000, 20.0, FeatureConfig::default()),
            (11025, 1.2, tile),
            (16000, 20.0, at_speed(0.9)),
            (16000, 9.7, at_speed(1.1)),
            (44100, 6.0, at_speed(1.1)),
            (11025, 5.0, at_speed(0.9)),
            // Augmented files are read whole, then cut as any other.
            (16000, 20.0, augmented(1.0)),
            (44100, 6.0, augmented(1.1)),
        ] {
            let path = dir.join(format!("{rate}.wav"));
            let n = (seconds * rate as f64) as usize;
            let y: Vec<f32> = (0..n)
                .map(|k| ((k as f32 * 0.013).sin() + (k as f32 * 0.0071).cos()) * 0.2)
                .collect();
            write_wav(&path, rate, &y);
            let pipe = Pipeline::new(&config).unwrap();
            // The unchunked result: the whole file decoded, resampled and
            // featurised in one go.
            let decoded = audio::decode::decode_file(&path).unwrap();
            let from = audio::perturbed_rate(rate, config.speed);
            let mut signal = audio::resample::resample(&decoded.samples, from, 16000).unwrap();
            if let Some(chain) = Chain::for_file(config.augment, config.augment_copy, &path, 16000)
            {
                chain.apply(&mut signal, 16000);
            }
            let mut reference = Vec::new();
            crate::featurize::featurize_utterance(
                &pipe,
                &signal,
                &mut pipe.scratch(),
                &mut reference,
            )
            .unwrap();
            let whole = featurize_files(&pipe, &pool, &sources(std::slice::from_ref(&path)), 0);
            assert_eq!(whole.windows, reference, "{rate} Hz at {}", config.speed);
            let mut file = FileWindows::open(&config, &path);
            let mut chunks = Vec::new();
            let never = AtomicBool::new(false);
            while file.outcome().is_none() {
                let n = file
                    .next_until(&pipe, &pool, 7, &mut chunks, &never)
                    .unwrap();
                assert!(n <= 7);
            }
            assert_eq!(chunks, whole.windows, "{rate} Hz at {}", config.speed);
            assert!(whole.n_windows() > 0);
            let summary = file.outcome().unwrap().as_ref().unwrap();
            assert_eq!(summary, whole.files[0].as_ref().unwrap());
        }
        let mut missing = FileWindows::open(&FeatureConfig::default(), &dir.join("no.wav"));
        assert!(missing.outcome().unwrap().is_err());
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let cancel = AtomicBool::new(true);
        assert_eq!(
            missing.next_until(&pipe, &pool, 5, &mut Vec::new(), &cancel),
            Some(0)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A 400 Hz tone.
    fn tone(rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|k| {
                (0.3 * (2.0 * std::f64::consts::PI * 400.0 * k as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn segments_are_featurised_like_files_of_their_own() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_segments_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("long.wav");
        let rate = 44100;
        write_wav(&path, rate, &tone(rate, rate as usize * 12));
        let decoded = audio::decode::decode_file(&path).unwrap().samples;
        // Overlapping, to the end, past the end, shorter than a window.
        let segments = [
            (0.5, Some(3.0)),
            (2.0, Some(6.5)),
            (6.5, None),
            (11.0, Some(13.0)),
            (4.0, Some(5.0)),
        ];
        let sources: Vec<Source> = segments
            .iter()
            .map(|&(start, end)| Source {
                segment: Some(Segment::new(start, end).unwrap()),
                ..Source::from(path.clone())
            })
            .collect();
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let batch = featurize_files(&pipe, &thread_pool(Some(2)).unwrap(), &sources, 0);
        let mut expected = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            let (s, e) = source.segment.unwrap().frames(rate);
            let Some(cut) = decoded.get(s as usize..e.map_or(decoded.len(), |e| e as usize)) else {
                let err = batch.files[i].as_ref().unwrap_err().to_string();
                assert!(
                    err.contains("long.wav: segment 11-13 s ends past the end"),
                    "{err}"
                );
                continue;
            };
            let signal = audio::resample::resample(cut, rate, 16000).unwrap();
            let mut windows = Vec::new();
            crate::featurize::featurize_utterance(
                &pipe,
                &signal,
                &mut pipe.scratch(),
                &mut windows,
            )
            .unwrap();
            let summary = batch.files[i].as_ref().unwrap();
            assert_eq!(summary.n_windows * 26 * 63, windows.len(), "{i}");
            assert!((summary.duration_s - signal.len() as f64 / 16000.0).abs() < 1e-9);
            expected.extend(windows);
        }
        assert_eq!(batch.windows, expected);
        // 2.5, 4.5 and 5.5 s give 2, 7 and 9 windows; 1 s none.
        assert_eq!(
            batch.file_index,
            [[0; 2].as_slice(), &[1; 7], &[2; 9]].concat()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn speed_one_reads_every_file_as_it_was_read_before() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_speed1_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for rate in [8000, 11025, 16000, 22050, 44100, 48000] {
            assert_eq!(audio::perturbed_rate(rate, 1.0), rate);
            let path = dir.join(format!("{rate}.wav"));
            write_wav(&path, rate, &tone(rate, rate as usize * 3));
            // The samples before speed existed: decoded, then resampled
            // from the file's own rate.
            let decoded = audio::decode::decode_file(&path).unwrap();
            let before = audio::resample::resample(&decoded.samples, rate, 16000).unwrap();
            let read = audio::AudioReader::open(&path, Some(16000), 1.0)
                .unwrap()
                .collect()
                .unwrap();
            assert_eq!(read.samples, before, "{rate} Hz");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn speed_scales_duration_windows_and_pitch() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_speed_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tone.wav");
        let n = 160_000; // 10 s at 16 kHz
        write_wav(&path, 16000, &tone(16000, n));
        let pool = thread_pool(Some(2)).unwrap();
        let mut windows = Vec::new();
        for speed in [0.5, 0.9, 1.0, 1.1, 2.0] {
            let config = FeatureConfig {
                speed,
                ..FeatureConfig::default()
            };
            let read = audio::AudioReader::open(&path, Some(16000), speed)
                .unwrap()
                .collect()
                .unwrap();
            // 1/speed as long: librosa's ceil(n * 16000 / (16000 * speed)).
            let expected = (n as f64 / speed).ceil() as usize;
            assert_eq!(read.samples.len(), expected, "speed {speed}");
            assert_eq!(read.original_sample_rate, 16000);
            // speed times the pitch: upward zero crossings per second,
            // away from the filter's start-up at the ends.
            let middle = &read.samples[2000..expected - 2000];
            let ups = middle
                .windows(2)
                .filter(|p| p[0] < 0.0 && p[1] >= 0.0)
                .count();
            let hz = ups as f64 * 16000.0 / middle.len() as f64;
            assert!((hz - 400.0 * speed).abs() < 1.0, "speed {speed}: {hz} Hz");
            let pipe = Pipeline::new(&config).unwrap();
            let batch = featurize_files(&pipe, &pool, &sources(std::slice::from_ref(&path)), 0);
            let summary = batch.files[0].as_ref().unwrap();
            assert!((summary.duration_s - expected as f64 / 16000.0).abs() < 1e-9);
            assert_eq!(summary.original_sample_rate, 16000);
            assert_eq!(
                summary.n_windows,
                crate::window::count_windows(expected, 32000, 6400)
            );
            windows.push(summary.n_windows);
        }
        // 10 s gives 21 windows of 2 s at a 0.4 s hop; 20 s at half speed 46.
        assert_eq!(windows, [46, 23, 21, 18, 8]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn augmented_copies_are_reproducible_and_differ_from_each_other() {
        let dir = std::env::temp_dir().join(format!("mfcc_rs_augment_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths: Vec<Source> = (0..6)
            .map(|i| {
                let p = dir.join(format!("{i}.wav"));
                write_wav(&p, 16000, &tone(16000, 40000 + 3000 * i));
                Source::from(p)
            })
            .collect();
        let copy = |k| FeatureConfig {
            augment: crate::augment::Effects::parse("noise,reverb,eq").unwrap(),
            augment_copy: k,
            ..FeatureConfig::default()
        };
        let run = |config: &FeatureConfig, threads| {
            let pipe = Pipeline::new(config).unwrap();
            featurize_files(&pipe, &thread_pool(Some(threads)).unwrap(), &paths, 0)
        };
        let plain = run(&FeatureConfig::default(), 2);
        let first = run(&copy(1), 1);
        // Another thread count, and the files in another order, give the
        // same windows.
        assert_eq!(run(&copy(1), 2).windows, first.windows);
        let pipe = Pipeline::new(&copy(1)).unwrap();
        let pool = thread_pool(Some(2)).unwrap();
        let reversed: Vec<Source> = paths.iter().rev().cloned().collect();
        let backwards = featurize_files(&pipe, &pool, &reversed, 0);
        let per_file = |b: &Batch, i: usize| -> Vec<f32> {
            let size = b.n_features * b.n_frames;
            b.file_index
                .iter()
                .enumerate()
                .filter(|(_, &f)| f as usize == i)
                .flat_map(|(w, _)| b.windows[w * size..(w + 1) * size].to_vec())
                .collect()
        };
        for i in 0..paths.len() {
            assert_eq!(
                per_file(&backwards, paths.len() - 1 - i),
                per_file(&first, i)
            );
        }
        // The windows of the original, changed, and another copy's differ.
        let second = run(&copy(2), 2);
        assert_eq!(first.file_index, plain.file_index);
        assert_eq!(second.file_index, plain.file_index);
        assert_ne!(first.windows, plain.windows);
        assert_ne!(first.windows, second.windows);
        assert!(first.windows.iter().all(|v| v.is_finite()));
        for (a, b) in first.files.iter().zip(&plain.files) {
            assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap());
        }
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
        let cancelled =
            featurize_files_until(&pipe, &pool, &sources(&paths), 0, &AtomicBool::new(true));
        assert!(cancelled.is_none());
        let mut stream =
            FeatureStream::new(&FeatureConfig::default(), sources(&paths), Some(1), 3).unwrap();
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
