//! The output of one session channel, written by a task of its own so that the shell's pauses
//! are real over SSH as over telnet: `sleep 3` holds the client for 3 s, `ping` prints a reply a
//! second, `wget` takes its time to fail, and `exit` closes the channel only after them.
//!
//! The russh handler cannot wait itself: russh calls it from the session's own loop, which must
//! go on reading the client's window adjustments while output waits. So the handler queues what
//! to send ([`ChannelOutput`]) and returns; the writer task sends it in order through the
//! channel's write half, which respects the client's window (flow control: a client that does
//! not read stops the writer, not the sensor's memory).
//!
//! The queue is bounded by [`MAX_BACKLOG`] bytes. Output that does not fit (a client that sends
//! commands and never reads what they print) is discarded and counted, and the handler logs the
//! count when the channel ends; the commands themselves are still run and recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use russh::ChannelWriteHalf;
use russh::server::Msg;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Bytes of output one channel may have queued and not yet sent (the shell prints at most
/// 16 KiB a line; this holds four such lines behind a slow client).
pub const MAX_BACKLOG: usize = 64 * 1024;

/// What a queued item that is not data counts against [`MAX_BACKLOG`], so that a flood of
/// lines that print nothing (`sleep 60` after `sleep 60`) is bounded too.
const ITEM_COST: usize = 64;

/// Output is queued in pieces of at most this many bytes, so that a burst larger than the
/// backlog (a pasted script's output, all produced in one go) keeps its first
/// [`MAX_BACKLOG`] bytes rather than losing all of it.
pub const PIECE_BYTES: usize = 16 * 1024;

/// One thing for the writer to do.
#[derive(Debug)]
enum Item {
    Data(Vec<u8>),
    Wait(Duration),
    /// Exit status, EOF and close: the channel's end, after everything before it.
    Finish(u32),
}

impl Item {
    fn cost(&self) -> usize {
        match self {
            Item::Data(bytes) => bytes.len().max(ITEM_COST),
            Item::Wait(_) | Item::Finish(_) => ITEM_COST,
        }
    }
}

/// The handler's end of a channel's writer task.
#[derive(Debug)]
pub struct ChannelOutput {
    queue: mpsc::UnboundedSender<Item>,
    /// Bytes queued and not yet sent, shared with the writer.
    backlog: Arc<AtomicUsize>,
    /// Bytes discarded because the backlog was full.
    discarded: usize,
    finished: bool,
}

impl ChannelOutput {
    /// Starts the writer of a channel in `tasks` (the connection's: they end with it).
    pub fn spawn(writer: ChannelWriteHalf<Msg>, tasks: &mut JoinSet<()>) -> ChannelOutput {
        let (queue, items) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        tasks.spawn(write(writer, items, Arc::clone(&backlog)));
        ChannelOutput {
            queue,
            backlog,
            discarded: 0,
            finished: false,
        }
    }

    /// Queues `item` if the backlog has room (a finish always has); false when it was discarded.
    fn push(&mut self, item: Item) -> bool {
        if self.finished {
            return false;
        }
        let cost = item.cost();
        let finish = matches!(item, Item::Finish(_));
        if !finish && !fits(self.backlog.load(Ordering::Relaxed), cost) {
            if let Item::Data(bytes) = &item {
                self.discarded += bytes.len();
            }
            return false;
        }
        self.backlog.fetch_add(cost, Ordering::Relaxed);
        self.finished = finish;
        // The writer is gone only when the channel or the connection is.
        self.queue.send(item).is_ok()
    }

    /// Queues bytes to send at once (after what is queued before them), in pieces of at most
    /// [`PIECE_BYTES`]; the pieces past the backlog are discarded and counted.
    pub fn data(&mut self, bytes: Vec<u8>) {
        if bytes.len() <= PIECE_BYTES {
            if !bytes.is_empty() {
                self.push(Item::Data(bytes));
            }
            return;
        }
        for piece in bytes.chunks(PIECE_BYTES) {
            self.push(Item::Data(piece.to_vec()));
        }
    }

    /// Queues a wait: what is queued after it is sent `wait` later.
    pub fn wait(&mut self, wait: Duration) {
        if !wait.is_zero() {
            self.push(Item::Wait(wait));
        }
    }

    /// Queues the channel's end: its exit status, EOF and close, once everything queued
    /// before is sent. Nothing queued after it is sent.
    pub fn finish(&mut self, status: u32) {
        self.push(Item::Finish(status));
    }

    /// Bytes discarded so far because the client did not read its output.
    pub fn discarded(&self) -> usize {
        self.discarded
    }
}

/// True when an item costing `cost` may join a queue holding `backlog` (cost) already.
fn fits(backlog: usize, cost: usize) -> bool {
    backlog.saturating_add(cost) <= MAX_BACKLOG
}

/// The writer task: sends each item in order, waits where told, and ends at the channel's end
/// or when russh refuses (the channel or the connection is gone).
async fn write(
    writer: ChannelWriteHalf<Msg>,
    mut items: mpsc::UnboundedReceiver<Item>,
    backlog: Arc<AtomicUsize>,
) {
    while let Some(item) = items.recv().await {
        let cost = item.cost();
        let go_on = match item {
            Item::Data(bytes) => writer.data_bytes(bytes).await.is_ok(),
            Item::Wait(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            Item::Finish(status) => {
                let _ = writer.exit_status(status).await;
                let _ = writer.eof().await;
                let _ = writer.close().await;
                false
            }
        };
        backlog.fetch_sub(cost, Ordering::Relaxed);
        if !go_on {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_takes_pieces_up_to_its_bound() {
        // A burst four times the backlog, in pieces: exactly the first MAX_BACKLOG bytes fit.
        let burst = vec![b'x'; 4 * MAX_BACKLOG];
        let (mut backlog, mut kept, mut discarded) = (0, 0, 0);
        for piece in burst.chunks(PIECE_BYTES) {
            let item = Item::Data(piece.to_vec());
            if fits(backlog, item.cost()) {
                backlog += item.cost();
                kept += piece.len();
            } else {
                discarded += piece.len();
            }
        }
        assert_eq!(kept, MAX_BACKLOG);
        assert_eq!(kept + discarded, burst.len());
        // Waits and tiny pieces cost at least ITEM_COST, so a flood of them is bounded too.
        assert_eq!(Item::Wait(Duration::from_secs(60)).cost(), ITEM_COST);
        assert_eq!(Item::Data(b"#".to_vec()).cost(), ITEM_COST);
        assert!(!fits(MAX_BACKLOG, 1));
        assert!(!fits(usize::MAX, ITEM_COST));
    }
}
