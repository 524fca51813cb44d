//! Leader election on a `coordination.k8s.io` Lease: one replica reconciles, the others stand by
//! and take over when the leader's lease runs out.
//!
//! The leader acts only while its own clock says the lease is valid: a renewal sent at instant
//! `t` and accepted keeps it valid until `t + duration - margin` (the apiserver recorded the
//! renewal after `t`, and a standby waits a whole `duration` from when it saw that renewal before
//! it takes over). That deadline is set on the App Mesh client's [`Fence`], which every App Mesh
//! write and status write checks right before it leaves. A leader that was paused (SIGSTOP, a
//! frozen VM, a long stall) wakes past its deadline: the fence is closed before any of its
//! reconciles can send anything, and the replica exits, as it does when the renewal is refused.
//!
//! The Lease is read and written as client-go's leader election does: a standby takes a Lease
//! whose holder has not renewed it for `leaseDurationSeconds` of the standby's own observation,
//! and every write carries the resourceVersion it read, so two replicas cannot both win.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use tokio::sync::watch;

use crate::http::{Health, Role};

/// The Lease and this replica's name in it.
#[derive(Debug, Clone)]
pub struct Election {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// Seconds a lease lasts without renewal; a standby takes over after that.
    pub duration: u64,
}

impl Election {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.duration.max(1))
    }

    /// How long after a renewal the next one is sent: a third of the duration, so that a
    /// renewal may take more than half of it (a loaded apiserver) before the deadline passes.
    fn renew_every(&self) -> Duration {
        self.duration() / 3
    }

    /// How long a renewal sent at some instant keeps this replica the leader by its own clock:
    /// the lease duration less a tenth for clocks that run at different rates.
    fn valid_for(&self) -> Duration {
        self.duration().mul_f64(0.9)
    }
}

/// How often a standby reads the Lease, and a failed renewal is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Why leading stopped.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// Another replica holds the lease now, or this one could not renew it in time; it must stop
    /// reconciling at once.
    #[error("lost the leader Lease {0}; exiting so that only the new leader reconciles")]
    Lost(String),
}

/// What this replica last wrote to the Lease as its holder.
struct Held {
    resource_version: Option<String>,
    /// When the accepted write was sent: the lease is valid from no earlier than this.
    sent: Instant,
}

/// What a standby saw of a Lease another replica holds, and since when, by its own clock.
struct Seen {
    resource_version: Option<String>,
    since: Instant,
}

/// Waits for leadership (or `stop`), then runs `work` until `stop` fires or leadership is lost.
/// `work` receives the future that tells it to stop. While leading, `fence` lets writes through
/// only until the lease's validity by this replica's clock runs out; when leadership is lost it
/// is closed for good.
pub async fn lead<W, Fut>(
    client: kube::Client,
    election: Election,
    health: Arc<Health>,
    fence: Fence,
    mut stop: watch::Receiver<bool>,
    work: W,
) -> Result<(), LeaderError>
where
    W: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>>) -> Fut,
    Fut: Future<Output = ()>,
{
    let api: Api<Lease> = Api::namespaced(client, &election.namespace);
    let lease = format!("{}/{}", election.namespace, election.name);
    health.set_role(Role::Standby);
    tracing::info!(
        lease,
        identity = election.identity,
        "standing by for the leader lease"
    );
    let mut seen = None;
    let held = loop {
        match try_acquire(&api, &election, &mut seen).await {
            Ok(Some(held)) => break held,
            Ok(None) => {}
            Err(e) => tracing::warn!(lease, error = %e, "cannot read the leader lease; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    };
    fence.hold_until(held.sent + election.valid_for());
    health.set_role(Role::Leader);
    tracing::info!(lease, "leading: reconciling GatewayRoutes");

    let (lost_tx, mut lost_rx) = watch::channel(false);
    let renewer = tokio::spawn(renew(
        api.clone(),
        election.clone(),
        held,
        fence.clone(),
        lost_tx,
    ));
    let mut stop_signal = stop.clone();
    let mut lost_signal = lost_rx.clone();
    let watched_lease = lease.clone();
    let trigger = Box::pin(async move {
        tokio::select! {
            _ = stop_signal.wait_for(|s| *s) => {}
            _ = lost_signal.wait_for(|lost| *lost) => {
                fence.close();
                tracing::warn!(lease = watched_lease, "lost the leader Lease: App Mesh calls stopped; exiting");
            }
        }
    });
    work(trigger).await;
    renewer.abort();
    if *lost_rx.borrow_and_update() {
        return Err(LeaderError::Lost(lease));
    }
    // A clean stop: give the lease back so a standby takes over at once.
    match release(&api, &election).await {
        Ok(()) => tracing::info!(lease, "released the leader lease"),
        Err(e) => tracing::warn!(lease, error = %e, "could not release the leader lease"),
    }
    Ok(())
}

/// Takes the Lease if it is free, missing, this replica's own, or expired by this replica's
/// observation; `None` while another replica holds it.
async fn try_acquire(
    api: &Api<Lease>,
    election: &Election,
    seen: &mut Option<Seen>,
) -> Result<Option<Held>, kube::Error> {
    let sent = Instant::now();
    let Some(current) = api.get_opt(&election.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(election.name.clone()),
                namespace: Some(election.namespace.clone()),
                ..Default::default()
            },
            spec: Some(spec(election, now(), 0)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(created) => Ok(Some(Held {
                resource_version: created.metadata.resource_version,
                sent,
            })),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
            Err(e) => Err(e),
        };
    };
    let version = current.metadata.resource_version.clone();
    let spec_now = current.spec.clone().unwrap_or_default();
    let holder = spec_now
        .holder_identity
        .as_deref()
        .filter(|h| !h.is_empty());
    let free = match holder {
        None => true,
        Some(h) if h == election.identity => true,
        Some(_) => {
            let lasts = Duration::from_secs(
                u64::try_from(spec_now.lease_duration_seconds.unwrap_or(15)).unwrap_or(15),
            );
            match seen {
                Some(s) if s.resource_version == version => s.since.elapsed() >= lasts,
                _ => {
                    *seen = Some(Seen {
                        resource_version: version.clone(),
                        since: Instant::now(),
                    });
                    false
                }
            }
        }
    };
    if !free {
        return Ok(None);
    }
    let transitions = spec_now.lease_transitions.unwrap_or(0)
        + i32::from(holder != Some(election.identity.as_str()));
    let acquired = now();
    let mut next = spec(election, acquired.clone(), transitions);
    if holder == Some(election.identity.as_str()) {
        next.acquire_time = spec_now.acquire_time.or(Some(acquired));
    }
    match write(api, election, version, next, sent).await {
        Ok(held) => {
            *seen = None;
            Ok(Some(held))
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Renews the Lease every `renew_every` while the deadline allows, and says `lost` when it may
/// not lead any more: another replica took the Lease, or no renewal got through before this
/// replica's deadline (it was partitioned, stalled or paused).
async fn renew(
    api: Api<Lease>,
    election: Election,
    mut held: Held,
    fence: Fence,
    lost: watch::Sender<bool>,
) {
    let lease = format!("{}/{}", election.namespace, election.name);
    loop {
        tokio::time::sleep_until((held.sent + election.renew_every()).into()).await;
        loop {
            // Past the deadline (a pause shows here as a jump of the clock): not the leader.
            if fence.is_closed() {
                tracing::warn!(
                    lease,
                    "the leader lease ran out by this replica's clock before it was renewed"
                );
                let _ = lost.send(true);
                return;
            }
            let sent = Instant::now();
            let mut next = spec(&election, now(), 0);
            next.acquire_time = None;
            next.lease_transitions = None;
            match write(&api, &election, held.resource_version.clone(), next, sent).await {
                Ok(renewed) => {
                    held = renewed;
                    fence.hold_until(held.sent + election.valid_for());
                    break;
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // Someone else wrote the Lease: still ours only if it still names us.
                    match api.get_opt(&election.name).await {
                        Ok(Some(l))
                            if l.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
                                == Some(election.identity.as_str()) =>
                        {
                            held.resource_version = l.metadata.resource_version;
                        }
                        Ok(_) => {
                            let _ = lost.send(true);
                            return;
                        }
                        Err(e) => tracing::warn!(lease, error = %e, "cannot read the leader lease"),
                    }
                }
                Err(e) => {
                    tracing::warn!(lease, error = %e, "cannot renew the leader lease; retrying");
                    tokio::time::sleep(RETRY / 2).await;
                }
            }
        }
    }
}

/// Gives the Lease back, if it still names this replica: no holder, so a standby takes it at
/// its next read.
async fn release(api: &Api<Lease>, election: &Election) -> Result<(), kube::Error> {
    let Some(current) = api.get_opt(&election.name).await? else {
        return Ok(());
    };
    let holder = current.spec.and_then(|s| s.holder_identity);
    if holder.as_deref() != Some(election.identity.as_str()) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": current.metadata.resource_version },
        "spec": { "holderIdentity": null },
    });
    api.patch(
        &election.name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Writes `spec` over the Lease at `version` (the apiserver refuses with 409 if it changed).
async fn write(
    api: &Api<Lease>,
    election: &Election,
    version: Option<String>,
    spec: LeaseSpec,
    sent: Instant,
) -> Result<Held, kube::Error> {
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": version },
        "spec": spec,
    });
    let written = api
        .patch(
            &election.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(Held {
        resource_version: written.metadata.resource_version,
        sent,
    })
}

/// The Lease spec of this replica holding it from `acquired`, renewed now.
fn spec(election: &Election, acquired: MicroTime, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(election.identity.clone()),
        lease_duration_seconds: Some(i32::try_from(election.duration).unwrap_or(i32::MAX)),
        acquire_time: Some(acquired),
        renew_time: Some(now()),
        lease_transitions: Some(transitions),
        ..Default::default()
    }
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Whether this replica may still write (App Mesh calls, status): closed for good when it learns
/// it no longer holds the leader Lease, or when its own clock passes the deadline its last
/// renewal set, so that reconciles still in flight cannot write behind the new leader's back,
/// even after a pause. Without leader election it has no deadline. Clones share the switch.
#[derive(Debug, Clone, Default)]
pub struct Fence(Arc<FenceState>);

#[derive(Debug, Default)]
struct FenceState {
    closed: AtomicBool,
    /// Writes may leave until this instant only (`None`: no deadline).
    until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Fence {
    pub fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
    }

    /// Lets writes through until `until` (and no longer, unless moved again before then).
    pub fn hold_until(&self, until: std::time::Instant) {
        *self.0.until.lock().unwrap_or_else(|e| e.into_inner()) = Some(until);
    }

    /// Whether nothing may be written any more. Asked right before each write; a deadline found
    /// passed closes the fence for good.
    pub fn is_closed(&self) -> bool {
        if self.0.closed.load(Ordering::SeqCst) {
            return true;
        }
        let until = *self.0.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_some_and(|until| std::time::Instant::now() >= until) {
            self.close();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::Election;
    use std::time::Duration;

    #[test]
    fn the_deadline_comes_after_the_next_renewal_and_before_a_standby_may_take_over() {
        for duration in [4, 6, 15, 30] {
            let e = Election {
                namespace: "n".into(),
                name: "l".into(),
                identity: "me".into(),
                duration,
            };
            // Room for a slow renewal: more than half the duration.
            let room = e.valid_for() - e.renew_every();
            assert!(room > e.duration() / 2, "{duration}: {room:?}");
            assert!(e.valid_for() < Duration::from_secs(duration), "{duration}");
        }
    }
}
