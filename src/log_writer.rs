//! Log output that costs a request neither a system call nor a thread wake-up.
//!
//! Every request writes one access line. A channel to a writer thread (what `tracing_appender` does)
//! wakes that thread for nearly every line, and on a small machine the wake-ups cost more than the
//! formatting. Here a line is appended to a shared buffer; a writer thread takes the whole buffer
//! every [`FLUSH_EVERY`], or sooner once [`WAKE_AT`] bytes are waiting, and writes it outside the
//! lock. A stalled output never blocks a request: past [`CAP`] bytes, lines are dropped and counted
//! (`log_lines_dropped_total`). The guard writes out what is left when it is dropped; a crash can
//! lose at most the last [`FLUSH_EVERY`] of lines.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often waiting lines are written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Waiting bytes that wake the writer before its period is over.
pub const WAKE_AT: usize = 64 * 1024;
/// Waiting bytes beyond which new lines are dropped.
pub const CAP: usize = 4 * 1024 * 1024;

struct Shared {
    pending: Mutex<Vec<u8>>,
    wake: Condvar,
    closing: AtomicBool,
    dropped: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while holding the lock leaves only bytes behind: keep logging.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `MakeWriter` handed to the subscriber; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Writes out the remaining lines and stops the writer thread when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread that copies batches to `out`.
pub fn batch_writer<W: Write + Send + 'static>(mut out: W) -> (BatchWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Vec::with_capacity(WAKE_AT)),
        wake: Condvar::new(),
        closing: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    });
    let writer_side = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(WAKE_AT);
            loop {
                {
                    let mut pending = writer_side.lock();
                    if pending.len() < WAKE_AT && !writer_side.closing.load(Ordering::Acquire) {
                        pending = writer_side
                            .wake
                            .wait_timeout(pending, FLUSH_EVERY)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    std::mem::swap(&mut *pending, &mut batch);
                }
                if !batch.is_empty() {
                    // Nowhere to report a failing log output; the lines are lost either way.
                    let _ = out.write_all(&batch).and_then(|()| out.flush());
                    batch.clear();
                }
                if writer_side.closing.load(Ordering::Acquire) && writer_side.lock().is_empty() {
                    return;
                }
            }
        })
        .expect("spawning the log writer thread");
    (BatchWriter { shared: shared.clone() }, FlushGuard { shared, thread: Some(thread) })
}

impl BatchWriter {
    /// Lines dropped so far because the output could not keep up.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Write for BatchWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        if pending.len() + buf.len() > CAP {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("log_lines_dropped_total").increment(1);
            return Ok(buf.len());
        }
        let was_below = pending.len() < WAKE_AT;
        pending.extend_from_slice(buf);
        if was_below && pending.len() >= WAKE_AT {
            self.shared.wake.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        {
            // Set under the lock the writer holds from its check to its wait, so the wake-up
            // cannot fall between the two and leave it sleeping out its period.
            let _pending = self.shared.lock();
            self.shared.closing.store(true, Ordering::Release);
        }
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the writer thread writes, and can be made to stall.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        stall: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _stalled = self.stall.lock().unwrap();
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_whole_and_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Sink::default();
        let (writer, guard) = batch_writer(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        w.write_all(format!("t{t} line {i:05}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        let text = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        for t in 0..4 {
            let own: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("t{t} "))).collect();
            let expected: Vec<String> = (0..5000).map(|i| format!("t{t} line {i:05}")).collect();
            assert_eq!(own, expected, "thread {t}'s lines");
        }
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn lines_arrive_within_the_flush_period_without_a_guard_drop() {
        let sink = Sink::default();
        let (mut writer, _guard) = batch_writer(sink.clone());
        writer.write_all(b"one line\n").unwrap();
        std::thread::sleep(FLUSH_EVERY * 6);
        assert_eq!(&*sink.bytes.lock().unwrap(), b"one line\n");
    }

    #[test]
    fn a_stalled_output_drops_and_counts_lines_instead_of_blocking() {
        let sink = Sink::default();
        let stalled = sink.stall.lock().unwrap();
        let (mut writer, guard) = batch_writer(sink.clone());
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        // Enough for the writer to take one batch and stall on it, then fill the buffer past CAP.
        for _ in 0..(2 * CAP / 1024 + 64) {
            writer.write_all(&line).unwrap();
        }
        assert!(writer.dropped() > 0, "nothing was dropped");
        drop(stalled);
        drop(guard);
        let written = sink.bytes.lock().unwrap().len();
        assert!(written <= 2 * CAP, "more than two buffers' worth was kept: {written}");
        assert!(written >= CAP / 2, "the kept lines were lost: {written}");
    }
}
