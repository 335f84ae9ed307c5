//! A TCP proxy in front of the local PostgreSQL, for tests of a database that
//! goes away under a running bot.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A TCP proxy to the local PostgreSQL that can be cut: open connections are
/// dropped and new ones refused until it is restored.
pub struct CutProxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    cut_tx: watch::Sender<u64>,
}

impl CutProxy {
    pub async fn start() -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (cut_tx, cut_rx) = watch::channel(0_u64);
        let accepting = open.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let mut cut = cut_rx.clone();
                cut.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect("127.0.0.1:5432").await else { return };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CutProxy { addr, open, cut_tx }
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cut_tx.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// `url` (a database on the local PostgreSQL) through this proxy.
    pub fn url_to(&self, url: &str) -> String {
        url.replace("127.0.0.1:5432", &self.addr.to_string())
    }
}
