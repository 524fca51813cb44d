//! Kubernetes Events about GatewayRoutes (`events.k8s.io/v1`): what is said is decided in
//! `outcome`; this module only publishes it.

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use crate::api::GatewayRoute;

/// Normal or Warning, as Events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One Event to publish about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub type_: EventType,
    pub reason: &'static str,
    pub note: String,
}

impl Note {
    pub fn normal(reason: &'static str, note: impl Into<String>) -> Note {
        Note {
            type_: EventType::Normal,
            reason,
            note: note.into(),
        }
    }

    pub fn warning(reason: &'static str, note: impl Into<String>) -> Note {
        Note {
            type_: EventType::Warning,
            reason,
            note: note.into(),
        }
    }
}

/// The longest note the apiserver accepts.
const MAX_NOTE: usize = 1000;

/// Publishes Events as this replica.
pub struct Recorder {
    client: kube::Client,
    /// This replica's name in the Events it writes.
    instance: String,
}

impl Recorder {
    pub fn new(client: kube::Client, instance: String) -> Recorder {
        Recorder { client, instance }
    }

    /// Publishes `note` about `route`. Each is created as it happens: meshroute emits one only
    /// when something changed, so there is nothing to aggregate, and no cache to grow. A failure
    /// is logged, not returned: an Event is never worth a retry of the reconcile.
    pub async fn publish(&self, route: &GatewayRoute, note: &Note) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let namespace = route.namespace().unwrap_or_default();
        let mut text = note.note.clone();
        if text.len() > MAX_NOTE {
            let cut = (0..=MAX_NOTE)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
        }
        let event = Event {
            metadata: ObjectMeta {
                name: Some(event_name(&route.name_any(), now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            action: Some("Reconcile".into()),
            reason: Some(note.reason.into()),
            note: Some(text),
            type_: Some(note.type_.as_str().into()),
            event_time: Some(MicroTime(now)),
            regarding: Some(route.object_ref(&())),
            reporting_controller: Some("meshroute.io/meshroute".into()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = events.create(&PostParams::default(), &event).await {
            tracing::warn!(error = %e, "could not publish an Event");
        }
    }
}

/// An Event's name: the object's name and a timestamp, within the 253 characters of a
/// Kubernetes name however long the object's name is, and still a valid name.
fn event_name(object: &str, nanos: i128) -> String {
    let suffix = format!(".{nanos:x}");
    let room = 253 - suffix.len();
    // Object names are ASCII (DNS subdomains), so any cut is on a character boundary.
    let prefix = object[..object.len().min(room)].trim_end_matches(['.', '-']);
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::event_name;

    #[test]
    fn event_names_are_valid_for_any_object_name() {
        let nanos = 1_764_000_000_123_456_789_i128;
        assert_eq!(event_name("web", nanos), format!("web.{nanos:x}"));
        // The longest object name, and one whose cut would end on a dot or a dash.
        for name in ["a".repeat(253), format!("{}.-b", "a".repeat(234))] {
            let event = event_name(&name, nanos);
            assert!(event.len() <= 253, "{} characters", event.len());
            assert!(event.ends_with(&format!(".{nanos:x}")));
            assert!(
                !event.contains(".-") && !event.contains("-.") && !event.contains(".."),
                "{event}"
            );
        }
    }
}
