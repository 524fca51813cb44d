//! The reasons of the Events meshroute records on a GatewayRoute (`kubectl describe`,
//! `kubectl get events`): part of what users and alerts read, as the `Ready` reasons are
//! (`condition`). A failure's Warning takes the `Ready` reason it failed with; a warning
//! condition's (`Shadowed`, `GatewayAPIFindings`) takes the condition's type.

/// What an Event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventReason {
    /// meshroute created the App Mesh gateway route (Normal).
    Created,
    /// The App Mesh route was deleted outside meshroute; it was created again (Warning).
    Recreated,
    /// An existing App Mesh route was taken over (Normal).
    Adopted,
    /// The App Mesh route was updated to the spec (Normal).
    Updated,
    /// The App Mesh route was changed outside meshroute; the spec was restored (Warning).
    DriftCorrected,
    /// The App Mesh route's tags were updated (Normal).
    TagsUpdated,
    /// The App Mesh route was deleted with its object (Normal).
    Deleted,
    /// The App Mesh route was kept (`deletionPolicy: Retain`) (Normal).
    Retained,
    /// The route's Gateway API route was deleted: its gateway is served by App Mesh only (Normal).
    GatewayApiRouteDeleted,
    /// Another install (another cluster id) reports the object Ready; this one leaves its
    /// status alone (Warning).
    OtherInstall,
    /// Another shard wrote the object's status before this one (Warning).
    ShardOverlap,
}

impl EventReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EventReason::Created => "Created",
            EventReason::Recreated => "Recreated",
            EventReason::Adopted => "Adopted",
            EventReason::Updated => "Updated",
            EventReason::DriftCorrected => "DriftCorrected",
            EventReason::TagsUpdated => "TagsUpdated",
            EventReason::Deleted => "Deleted",
            EventReason::Retained => "Retained",
            EventReason::GatewayApiRouteDeleted => "GatewayAPIRouteDeleted",
            EventReason::OtherInstall => "OtherInstall",
            EventReason::ShardOverlap => "ShardOverlap",
        }
    }
}
