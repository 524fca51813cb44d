//! Objects to reconcile now, from outside the watch: the dependency they waited for appeared,
//! or the drift pass found their route changed (and, when it was their tags, asks for a full
//! read of App Mesh, which a page cannot replace).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};

use super::cache::Key;

/// The sending side, cheap to clone: the controller reads the receiver.
#[derive(Clone)]
pub struct Wakes {
    sender: UnboundedSender<Key>,
    /// Objects (by uid) whose next reconcile must read App Mesh in full.
    full_checks: Arc<Mutex<HashSet<String>>>,
}

impl Wakes {
    /// The wakes, and the stream of objects the controller reconciles for them.
    pub fn new() -> (Wakes, UnboundedReceiver<Key>) {
        let (sender, receiver) = unbounded();
        let wakes = Wakes {
            sender,
            full_checks: Arc::default(),
        };
        (wakes, receiver)
    }

    fn full_checks(&self) -> MutexGuard<'_, HashSet<String>> {
        self.full_checks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reconciles `object` as soon as it may.
    pub fn wake(&self, object: Key) {
        // The receiver is gone only when the controller stopped: nothing to wake then.
        let _ = self.sender.unbounded_send(object);
    }

    /// Reconciles `object` (uid `uid`) now, reading App Mesh in full.
    pub fn check_in_full(&self, object: Key, uid: &str) {
        self.full_checks().insert(uid.to_string());
        self.wake(object);
    }

    /// Whether a full check of `uid` was asked for (and forgets the request).
    pub fn take_full_check(&self, uid: &str) -> bool {
        self.full_checks().remove(uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn woken_objects_reach_the_controller_and_full_checks_are_taken_once() {
        let (wakes, mut woken) = Wakes::new();
        let key = Key::new("a").within("ns");
        wakes.wake(key.clone());
        wakes.clone().check_in_full(key.clone(), "uid-a");
        assert_eq!(woken.next().await, Some(key.clone()));
        assert_eq!(woken.next().await, Some(key));
        assert!(wakes.take_full_check("uid-a"));
        assert!(!wakes.take_full_check("uid-a"), "taken once");
        assert!(!wakes.take_full_check("uid-b"));
    }
}
