//! Per-host state of a run, bounded in the number of hosts: the slots of `--per-host` and the
//! start times of `--per-host-rate`.
//!
//! A batch crawl can name millions of hosts, most of them once. Neither table keeps a host it
//! no longer needs: a host's slots are dropped when its last request ends ([`HostSlots`]: the
//! table holds only hosts with a request waiting or in flight, so at most the run's
//! concurrency), and a host's start time is dropped once it is in the past, with a hard cap on
//! the hosts remembered ([`HostPacer`]: past the cap the host whose turn comes first is
//! forgotten, and a host it does not know waits for that turn, so no host ever starts sooner
//! than its rate allows).
//!
//! Layer: domain (uses the runtime's [`Semaphore`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use greenfetch_runtime::Semaphore;
use greenfetch_runtime::wait::lock;

/// One host's slots and how many requests hold or wait for one.
struct Slots {
    sem: Semaphore,
    users: usize,
}

/// `--per-host N`: at most N requests in flight to one host. A host is in the table only while
/// a request to it is waiting or in flight.
pub(crate) struct HostSlots {
    per_host: usize,
    hosts: Mutex<HashMap<String, Slots>>,
}

/// A slot taken by [`HostSlots::take`]; dropping it gives the slot back (and the host's entry,
/// with its last user).
pub(crate) struct HostSlot<'a> {
    table: &'a HostSlots,
    host: &'a str,
    sem: Semaphore,
    /// False while waiting: a kill then unwinds with no slot to give back.
    taken: bool,
}

impl Drop for HostSlot<'_> {
    fn drop(&mut self) {
        if self.taken {
            self.sem.release();
        }
        let mut hosts = lock(&self.table.hosts);
        if let Some(s) = hosts.get_mut(self.host) {
            s.users -= 1;
            if s.users == 0 {
                hosts.remove(self.host);
            }
        }
    }
}

impl HostSlots {
    pub(crate) fn new(per_host: usize) -> Self {
        HostSlots {
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits (parking the green thread) for one of `host`'s slots.
    pub(crate) fn take<'a>(&'a self, host: &'a str) -> HostSlot<'a> {
        let sem = {
            let mut hosts = lock(&self.hosts);
            let s = hosts.entry(host.to_owned()).or_insert_with(|| Slots {
                sem: Semaphore::new(self.per_host),
                users: 0,
            });
            s.users += 1;
            s.sem.clone()
        };
        // The guard exists before the wait, so a kill while waiting still counts the user out.
        let mut slot = HostSlot {
            table: self,
            host,
            sem,
            taken: false,
        };
        slot.sem.acquire();
        slot.taken = true;
        slot
    }

    /// Hosts in the table now (those with a request waiting or in flight).
    pub(crate) fn len(&self) -> usize {
        lock(&self.hosts).len()
    }
}

/// The most hosts [`HostPacer`] remembers at once.
pub(crate) const MAX_PACED_HOSTS: usize = 100_000;

/// `--per-host-rate R`: requests to one host start at least 1/R s apart; the first goes at
/// once. Only hosts whose next turn is still ahead are remembered, at most `cap` of them.
pub(crate) struct HostPacer {
    gap: Duration,
    cap: usize,
    /// Each host's next turn, with the sequence number that orders equal instants.
    next: HashMap<String, (Instant, u64)>,
    /// The same entries ordered by turn, earliest first.
    by_turn: BTreeSet<(Instant, u64, String)>,
    seq: u64,
    /// The latest turn of a host forgotten while its turn was still ahead: a host not in the
    /// table starts no sooner (it may be that one).
    floor: Option<Instant>,
}

impl HostPacer {
    pub(crate) fn new(rate: f64, cap: usize) -> Self {
        HostPacer {
            gap: Duration::from_secs_f64(1.0 / rate),
            cap: cap.max(1),
            next: HashMap::new(),
            by_turn: BTreeSet::new(),
            seq: 0,
            floor: None,
        }
    }

    /// Books the next start at `host` at or after `now` and returns when it is.
    pub(crate) fn book(&mut self, host: &str, now: Instant) -> Instant {
        // Turns that have come need no memory: such a host may start at once.
        while let Some(first) = self.by_turn.first() {
            if first.0 > now {
                break;
            }
            let (_, _, h) = self.by_turn.pop_first().expect("checked above");
            self.next.remove(&h);
        }
        let at = match self.next.get(host) {
            Some(&(turn, seq)) => {
                self.by_turn.remove(&(turn, seq, host.to_owned()));
                turn.max(now)
            }
            None => {
                if self.next.len() >= self.cap {
                    let (turn, _, h) = self.by_turn.pop_first().expect("cap is at least 1");
                    self.next.remove(&h);
                    self.floor = Some(self.floor.map_or(turn, |f| f.max(turn)));
                }
                self.floor.map_or(now, |f| f.max(now))
            }
        };
        self.seq += 1;
        let turn = at + self.gap;
        self.next.insert(host.to_owned(), (turn, self.seq));
        self.by_turn.insert((turn, self.seq, host.to_owned()));
        at
    }

    /// Hosts remembered now.
    pub(crate) fn len(&self) -> usize {
        self.next.len()
    }
}

/// [`HostPacer`] behind a lock, as the fetcher shares it.
pub(crate) struct SharedPacer(Mutex<HostPacer>);

impl SharedPacer {
    pub(crate) fn new(rate: f64) -> Self {
        SharedPacer(Mutex::new(HostPacer::new(rate, MAX_PACED_HOSTS)))
    }

    /// Waits (a green sleep) for this request's turn at `host`.
    pub(crate) fn wait_turn(&self, host: &str) {
        let at = lock(&self.0).book(host, Instant::now());
        let wait = at.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            greenfetch_runtime::sleep(wait);
        }
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.0).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_slots_leave_the_table_with_its_last_request() {
        let slots = HostSlots::new(2);
        for i in 0..10_000 {
            let host = format!("h{i}.test");
            let a = slots.take(&host);
            let b = slots.take(&host);
            assert_eq!(slots.len(), 1);
            drop(a);
            assert_eq!(slots.len(), 1, "one request still holds a slot");
            drop(b);
            assert_eq!(slots.len(), 0);
        }
        // Many hosts held at once: the table is exactly the hosts in flight.
        let names: Vec<String> = (0..100).map(|i| format!("x{i}.test")).collect();
        let held: Vec<HostSlot<'_>> = names.iter().map(|h| slots.take(h)).collect();
        assert_eq!(slots.len(), 100);
        drop(held);
        assert_eq!(slots.len(), 0);
    }

    #[test]
    fn the_pacer_forgets_past_turns_and_never_holds_more_than_its_cap() {
        let gap = Duration::from_millis(100);
        let t0 = Instant::now();
        let mut p = HostPacer::new(10.0, 1000);
        // 200,000 hosts, one request each, 1,000 of them per gap: at most the last gap's
        // hosts are remembered.
        for i in 0..200_000u64 {
            let now = t0 + gap * u32::try_from(i / 1000).unwrap();
            let at = p.book(&format!("h{i}.test"), now);
            assert_eq!(at, now, "a host never seen starts at once");
            assert!(p.len() <= 1000, "{} hosts remembered", p.len());
        }
        // All at one instant, more hosts than the cap: still bounded.
        let now = t0 + Duration::from_secs(3600);
        for i in 0..5000 {
            p.book(&format!("burst{i}.test"), now);
            assert!(p.len() <= 1000);
        }
    }

    #[test]
    fn a_forgotten_host_still_waits_for_its_turn() {
        let gap = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut p = HostPacer::new(1.0, 2);
        assert_eq!(p.book("a", t0), t0);
        assert_eq!(
            p.book("a", t0),
            t0 + gap,
            "the second request waits one gap"
        );
        assert_eq!(p.book("b", t0), t0);
        // Full: "a" (turn t0+2s) is the later one, "b" (t0+1s) the earliest and is forgotten;
        // "c" waits for b's turn.
        assert_eq!(p.book("c", t0), t0 + gap);
        assert_eq!(p.len(), 2);
        // "b" is not remembered, and still does not start before its turn.
        let b = p.book("b", t0);
        assert!(b >= t0 + gap, "b started at {:?}", b - t0);
        assert!(p.len() <= 2);
    }
}
