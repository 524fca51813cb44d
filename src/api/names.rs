//! Names across the two worlds: App Mesh names for objects (the default route name) and object
//! names for App Mesh names (what `import` and `export` print), each valid, stable and
//! distinct.

/// App Mesh's longest name.
const APP_MESH_MAX_NAME: usize = 255;

/// `<name>_<namespace>`, as the official App Mesh controller names its resources. Longer than
/// App Mesh allows (a 253-character name in a long namespace), it is cut and ends in a hash of
/// the whole, so distinct objects keep distinct names.
pub fn default_app_mesh_name(name: &str, namespace: &str) -> String {
    let full = format!("{name}_{namespace}");
    if full.len() <= APP_MESH_MAX_NAME {
        return full;
    }
    // Object names and namespaces are ASCII, so any cut is on a character boundary.
    format!("{}-{}", &full[..APP_MESH_MAX_NAME - 9], short_hash(&full))
}

/// Eight hex digits that stand for `text`: a suffix that keeps names distinct after they were
/// cut or rewritten.
pub fn short_hash(text: &str) -> String {
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes())
        .simple()
        .to_string();
    digest[..8].to_string()
}

/// The longest Kubernetes object name (a DNS-1123 subdomain).
const MAX_OBJECT_NAME: usize = 253;

/// A valid Kubernetes object name for an App Mesh name, the same every time: lower case, every
/// character a name cannot hold turned into `-`, dots only between labels. When that changed
/// anything (`Web_Route` and `web-route` would otherwise meet) or the name is too long, it ends
/// in a hash of the original, so distinct App Mesh names keep distinct object names.
pub fn object_name(app_mesh_name: &str) -> String {
    let lowered: String = app_mesh_name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let clean = lowered
        .split('.')
        .map(|label| label.trim_matches('-'))
        .filter(|label| !label.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if clean == app_mesh_name && clean.len() <= MAX_OBJECT_NAME {
        return clean;
    }
    let hash = short_hash(app_mesh_name);
    // ASCII only by now, so any cut is on a character boundary.
    let cut =
        clean[..clean.len().min(MAX_OBJECT_NAME - hash.len() - 1)].trim_end_matches(['.', '-']);
    if cut.is_empty() {
        format!("route-{hash}")
    } else {
        format!("{cut}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::object_name;

    /// What Kubernetes accepts as an object name (a DNS-1123 subdomain).
    fn is_subdomain(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    }

    #[test]
    fn valid_names_stay_as_they_are() {
        for name in ["web", "web-v1", "api.v2", "a", "0route"] {
            assert_eq!(object_name(name), name);
        }
    }

    #[test]
    fn other_names_are_mapped_validly_deterministically_and_distinctly() {
        let names = [
            "Web_Route",
            "web-route",
            "web_route",
            "WEB.route",
            "-lead",
            "trail.",
            "a..b",
            "_",
            "___",
            "x.-y",
            &"L".repeat(255),
            &"l".repeat(255),
        ];
        let mapped: Vec<String> = names.iter().map(|n| object_name(n)).collect();
        for (name, m) in names.iter().zip(&mapped) {
            assert!(is_subdomain(m), "{name:?} -> {m:?} is not a valid name");
            assert_eq!(&object_name(name), m, "not deterministic for {name:?}");
        }
        let distinct: std::collections::BTreeSet<_> = mapped.iter().collect();
        assert_eq!(distinct.len(), mapped.len(), "{mapped:?}");
        assert!(mapped[0].starts_with("web-route-"), "{}", mapped[0]);
    }
}
