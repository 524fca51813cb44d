//! Waiting for a missing mesh, virtual gateway or virtual service, together. Objects that wait
//! for the same one share its probe: one Describe call per `probe_every` between all of them,
//! none of their own; when the probe finds it, every one of them is reconciled at once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cache::Key;
use super::desired::Desired;
use crate::appmesh::{AppMesh, AppMeshError, Missing};

/// A mesh, virtual gateway or virtual service, where it is looked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Dependency {
    mesh: String,
    mesh_owner: Option<String>,
    what: Missing,
}

impl Dependency {
    /// `what`, where `d`'s route looks for it.
    fn of(d: &Desired, what: Missing) -> Dependency {
        Dependency {
            mesh: d.key.mesh.clone(),
            mesh_owner: d.key.mesh_owner.clone(),
            what,
        }
    }
}

struct Known {
    /// When it was last found missing (or a probe of it started).
    checked: Instant,
    waiters: HashSet<Key>,
}

/// What is known to be missing, and who waits for it.
pub struct Dependencies {
    probe_every: Duration,
    missing: Mutex<HashMap<Dependency, Known>>,
}

/// What [`Dependencies::wait`] found.
#[derive(Debug, PartialEq)]
pub enum Wait {
    /// Still missing: the object waits (no call was made for it, or the shared probe was).
    Missing(Missing),
    /// Nothing it needs is known missing; these other objects waited for what just appeared.
    Go(Vec<Key>),
}

impl Dependencies {
    pub fn new(probe_every: Duration) -> Self {
        Dependencies {
            probe_every,
            missing: Mutex::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<Dependency, Known>> {
        self.missing.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn needed_by(d: &Desired) -> [Dependency; 3] {
        Missing::needed_by(&d.key, d.target()).map(|what| Dependency::of(d, what))
    }

    /// Records that `what`, which `d` needs, was just found missing, and that `waiter` waits.
    pub fn record(&self, d: &Desired, what: &Missing, waiter: Key) {
        if *what == Missing::Unknown {
            return;
        }
        let mut known = self.known();
        let entry = known
            .entry(Dependency::of(d, what.clone()))
            .or_insert_with(|| Known {
                checked: Instant::now(),
                waiters: HashSet::new(),
            });
        entry.checked = Instant::now();
        entry.waiters.insert(waiter);
    }

    /// What `d` still waits for, before anything is tried. A dependency probed less than
    /// `probe_every` ago counts as missing without a call; an older one is probed now, by this
    /// object for every waiter (the others see it as fresh meanwhile).
    pub async fn wait(
        &self,
        d: &Desired,
        waiter: &Key,
        appmesh: &AppMesh,
    ) -> Result<Wait, AppMeshError> {
        let mut woken = Vec::new();
        for dependency in Self::needed_by(d) {
            {
                let mut known = self.known();
                let Some(entry) = known.get_mut(&dependency) else {
                    continue;
                };
                entry.waiters.insert(waiter.clone());
                if entry.checked.elapsed() < self.probe_every {
                    return Ok(Wait::Missing(dependency.what));
                }
                // Probed by this object now: the others see it as fresh meanwhile.
                entry.checked = Instant::now();
            }
            let exists = appmesh
                .exists(
                    &dependency.mesh,
                    dependency.mesh_owner.as_deref(),
                    &dependency.what,
                )
                .await?;
            if !exists {
                return Ok(Wait::Missing(dependency.what));
            }
            if let Some(entry) = self.known().remove(&dependency) {
                woken.extend(entry.waiters.into_iter().filter(|w| w != waiter));
            }
        }
        Ok(Wait::Go(woken))
    }

    /// Forgets an object that left the watch.
    pub fn forget(&self, waiter: &Key) {
        self.known().retain(|_, entry| {
            entry.waiters.remove(waiter);
            !entry.waiters.is_empty()
        });
    }
}
