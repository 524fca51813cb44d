//! Leader election on a `coordination.k8s.io` Lease: one replica reconciles, the others stand by
//! and take over when the leader's lease runs out.

use std::future::Future;
use std::sync::Arc;

use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;

use crate::appmesh::Fence;
use crate::http::{Health, Role};

/// The Lease and this replica's name in it.
#[derive(Debug, Clone)]
pub struct Election {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// Seconds a lease lasts without renewal; a standby takes over after that.
    pub duration: u64,
    /// Seconds before expiry at which the leader renews.
    pub grace: u64,
}

/// Why leading stopped.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("leader election on Lease {0}: {1}")]
    Lease(String, kube_lease_manager::LeaseManagerError),
    /// Another replica holds the lease now; this one must stop reconciling at once.
    #[error("lost the leader Lease {0}; exiting so that only the new leader reconciles")]
    Lost(String),
}

/// Waits for leadership (or `stop`), then runs `work` until `stop` fires or leadership is lost.
/// `work` receives the future that tells it to stop. The moment leadership is known to be lost,
/// `fence` is closed: no App Mesh call leaves this process after that, so reconciles still
/// finishing cannot write behind the new leader's back.
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
    let lease = format!("{}/{}", election.namespace, election.name);
    let manager = LeaseManagerBuilder::new(client, &election.name)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_duration(election.duration)
        .with_grace(election.grace)
        .build()
        .await
        .map_err(|e| LeaderError::Lease(lease.clone(), e))?;
    let (mut leader, task) = manager.watch().await;
    health.set_role(Role::Standby);
    tracing::info!(
        lease,
        identity = election.identity,
        "standing by for the leader lease"
    );
    let elected = tokio::select! {
        held = leader.wait_for(|is_leader| *is_leader) => held.map(|_| true),
        _ = stop.wait_for(|s| *s) => Ok(false),
    };
    match elected {
        Err(_) => return Err(LeaderError::Lost(lease)),
        Ok(false) => {
            drop(leader);
            let _ = task.await;
            return Ok(());
        }
        Ok(true) => {}
    }
    health.set_role(Role::Leader);
    tracing::info!(lease, "leading: reconciling GatewayRoutes");

    let mut watching = leader.clone();
    let (lost_tx, mut lost_rx) = watch::channel(false);
    let mut stop_signal = stop.clone();
    let watched_lease = lease.clone();
    let trigger = Box::pin(async move {
        tokio::select! {
            _ = stop_signal.wait_for(|s| *s) => {}
            _ = watching.wait_for(|is_leader| !*is_leader) => {
                fence.close();
                tracing::warn!(lease = watched_lease, "lost the leader Lease: App Mesh calls stopped; exiting");
                let _ = lost_tx.send(true);
            }
        }
    });
    work(trigger).await;
    if *lost_rx.borrow_and_update() {
        return Err(LeaderError::Lost(lease));
    }
    // A clean stop: give the lease back so a standby takes over at once.
    drop(leader);
    let _ = task.await;
    tracing::info!(lease, "released the leader lease");
    Ok(())
}
