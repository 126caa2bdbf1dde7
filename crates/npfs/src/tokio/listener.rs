//! [`PipeListener`]: N idle instances, replaced as soon as a client takes one.

use std::ffi::OsStr;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::tokio::sync::mpsc;
use ::tokio::task::JoinHandle;

use super::{name_of, NamedPipeServer, ServerOptions};

/// Keeps `idle` instances of a pipe listening, so that bursts of clients find one instead
/// of `ERROR_PIPE_BUSY` — the usual complaint about named-pipe servers. Each instance is
/// watched by a task of its own; when a client connects to it, the task creates the
/// replacement *first* and then queues the connected instance for [`PipeListener::accept`].
/// Under a burst — an instance taken within a few milliseconds of its creation — a slot adds
/// a second instance, so the pool grows (up to 8 × `idle`, and never beyond the pipe's
/// instance limit) while clients arrive faster than one-for-one replacement keeps up; it
/// does not shrink. A burst that outruns even that finds every instance busy; clients that
/// use [`super::ClientOptions::open_wait`] then wait for the next one instead of failing.
///
/// Dropping the listener closes the idle instances; connected instances already accepted
/// are unaffected. Needs a tokio runtime (it spawns tasks).
///
/// ```no_run
/// use npfs::tokio::{PipeListener, ServerOptions};
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let mut listener = PipeListener::bind(r"\\.\pipe\npfs-doc-listener", &ServerOptions::new(), 16)?;
/// loop {
///     let server = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut buf = [0u8; 512];
///         while let Ok(n) = server.recv_msg(&mut buf).await {
///             if server.write_msg(&buf[..n.len]).await.is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # }
/// ```
pub struct PipeListener {
    rx: mpsc::Receiver<io::Result<NamedPipeServer>>,
    shared: Arc<Shared>,
    name: String,
}

struct Shared {
    options: ServerOptions,
    name: String,
    tx: mpsc::Sender<io::Result<NamedPipeServer>>,
    slots: AtomicUsize,
    max_slots: usize,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// An instance taken sooner than this after its creation counts as a burst.
const BURST: Duration = Duration::from_millis(5);

impl Shared {
    fn spawn(self: &Arc<Shared>, server: NamedPipeServer) {
        self.slots.fetch_add(1, Ordering::AcqRel);
        let h = ::tokio::spawn(slot(server, self.clone()));
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    }
}

impl PipeListener {
    /// Create `idle` (at least 1) instances of `name` with `options` (the first as given,
    /// including `first_pipe_instance`; the others and every replacement without it) and
    /// start watching them.
    ///
    /// # Errors
    ///
    /// Those of [`ServerOptions::create`], for any of the first `idle` instances.
    pub fn bind(
        name: impl AsRef<OsStr>,
        options: &ServerOptions,
        idle: usize,
    ) -> io::Result<PipeListener> {
        let name = name_of(name.as_ref())?.to_owned();
        let mut more = options.clone();
        more.first_pipe_instance(false);
        let idle = idle.max(1);
        let mut servers = Vec::with_capacity(idle);
        servers.push(options.create(&name)?);
        for _ in 1..idle {
            servers.push(more.create(&name)?);
        }
        let (tx, rx) = mpsc::channel(1024);
        let shared = Arc::new(Shared {
            options: more,
            name: name.clone(),
            tx,
            slots: AtomicUsize::new(0),
            max_slots: idle.saturating_mul(8),
            tasks: Mutex::new(Vec::new()),
        });
        for s in servers {
            shared.spawn(s);
        }
        Ok(PipeListener { rx, shared, name })
    }

    /// The next connected instance (its client may have closed already: reads then report
    /// end of stream).
    ///
    /// # Errors
    ///
    /// A replacement instance could not be created (for example the pipe's instance limit
    /// was reached); that slot stops, the others go on. `ERROR_PIPE_NOT_CONNECTED` when no
    /// slot is left.
    pub async fn accept(&mut self) -> io::Result<NamedPipeServer> {
        match self.rx.recv().await {
            Some(r) => r,
            None => Err(super::to_io(npfs_core::Win32Error::PIPE_NOT_CONNECTED)),
        }
    }

    /// The pipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PipeListener {
    fn drop(&mut self) {
        for t in self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}

impl std::fmt::Debug for PipeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeListener")
            .field("name", &self.name)
            .field("slots", &self.shared.slots.load(Ordering::Relaxed))
            .finish()
    }
}

/// One idle instance at a time: wait for its client, put the replacement up, hand it over.
async fn slot(mut server: NamedPipeServer, shared: Arc<Shared>) {
    let (options, name, tx) = (&shared.options, &shared.name, &shared.tx);
    let mut born = Instant::now();
    loop {
        match server.connect().await {
            // A client that connected and left at once: the instance is still a valid accept
            // (its reads report end of stream), as ConnectNamedPipe's ERROR_NO_DATA says.
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(super::ERROR_NO_DATA as i32) => {}
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
        let next = match options.create(name) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Ok(server)).await;
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        if born.elapsed() < BURST && shared.slots.load(Ordering::Acquire) < shared.max_slots {
            // Clients come faster than one-for-one replacement: one more idle instance.
            // (At the pipe's instance limit there is simply no extra one.)
            if let Ok(extra) = options.create(name) {
                shared.spawn(extra);
            }
        }
        born = Instant::now();
        if tx
            .send(Ok(std::mem::replace(&mut server, next)))
            .await
            .is_err()
        {
            return;
        }
    }
}
