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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::cache::key;
    use crate::reconcile::testing::{Bed, CLUSTER, MESH, object};

    const LATE: &str = "late.apps.local";

    #[tokio::test]
    async fn waiters_share_one_probe_and_wake_together() {
        let bed = Bed::new().await;
        let every = Duration::from_millis(300);
        let deps = Dependencies::new(every);
        let (a, b) = (object("a", "/a", LATE), object("b", "/b", LATE));
        let (da, db) = (Desired::of(&a, CLUSTER), Desired::of(&b, CLUSTER));
        let late = Missing::VirtualService(LATE.into());
        deps.record(&da, &late, key(&a));

        // Known missing, probed just now: b waits without a call.
        assert_eq!(
            deps.wait(&db, &key(&b), &bed.appmesh).await.unwrap(),
            Wait::Missing(late.clone())
        );
        assert_eq!(bed.all_calls(), 0);

        // A probe is due: one Describe for every waiter, still missing.
        tokio::time::sleep(every).await;
        assert_eq!(
            deps.wait(&db, &key(&b), &bed.appmesh).await.unwrap(),
            Wait::Missing(late.clone())
        );
        assert_eq!(
            deps.wait(&da, &key(&a), &bed.appmesh).await.unwrap(),
            Wait::Missing(late)
        );
        assert_eq!(bed.calls("DescribeVirtualService"), 1, "one probe for both");

        // It appears: the next probe lets b go and wakes a, the other waiter.
        bed.out_of_band(
            "CreateVirtualService",
            json!({ "meshName": MESH, "virtualServiceName": LATE, "spec": {} }),
        );
        tokio::time::sleep(every).await;
        assert_eq!(
            deps.wait(&db, &key(&b), &bed.appmesh).await.unwrap(),
            Wait::Go(vec![key(&a)])
        );
        // Nothing is known missing any more: a goes without a call.
        bed.emulator.emulator.reset_counters();
        assert_eq!(
            deps.wait(&da, &key(&a), &bed.appmesh).await.unwrap(),
            Wait::Go(vec![])
        );
        assert_eq!(bed.all_calls(), 0);
    }

    #[tokio::test]
    async fn an_object_that_leaves_stops_waiting() {
        let bed = Bed::new().await;
        let deps = Dependencies::new(Duration::from_secs(60));
        let (a, b) = (object("a", "/a", LATE), object("b", "/b", LATE));
        let late = Missing::VirtualService(LATE.into());
        deps.record(&Desired::of(&a, CLUSTER), &late, key(&a));
        deps.record(&Desired::of(&b, CLUSTER), &late, key(&b));
        deps.forget(&key(&a));
        assert!(!deps.known().values().any(|k| k.waiters.contains(&key(&a))));
        deps.forget(&key(&b));
        assert!(deps.known().is_empty(), "no waiter, nothing kept");
        // Unknown is never recorded: there is nothing to probe.
        deps.record(&Desired::of(&a, CLUSTER), &Missing::Unknown, key(&a));
        assert!(deps.known().is_empty());
        let c = object("c", "/c", LATE);
        // With nothing known missing, the object goes and App Mesh decides.
        assert_eq!(
            deps.wait(&Desired::of(&c, CLUSTER), &key(&c), &bed.appmesh)
                .await
                .unwrap(),
            Wait::Go(vec![])
        );
        assert_eq!(bed.all_calls(), 0);
    }
}
