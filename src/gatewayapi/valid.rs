//! What Gateway API's CRDs accept: paths, header and parameter names, host names, namespaces,
//! gRPC service names. A value they would refuse is a finding, never an object that fails to
//! apply.

use super::{Code, Findings};

/// Gateway API refuses these in Exact and PathPrefix paths (and rewrites); App Mesh did not.
pub(super) fn check_path(path: &str, field: &str, f: &mut Findings) {
    let bytes = path.as_bytes();
    let mut i = 0;
    let mut bad_char = !path.starts_with('/');
    while i < bytes.len() && !bad_char {
        let c = bytes[i];
        if c == b'%' {
            bad_char = !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
            i += 3;
            continue;
        }
        bad_char = !(c.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&c));
        i += 1;
    }
    let lower = path.to_ascii_lowercase();
    let bad_part = ["//", "/./", "/../", "%2f", "#"]
        .into_iter()
        .find(|p| lower.contains(p))
        .or(["/.", "/.."].into_iter().find(|p| path.ends_with(p)));
    if bad_char || bad_part.is_some() {
        f.note(
            Code::PathRefused,
            field,
            format!("Gateway API refuses the path {path:?} (it allows an absolute path of URL characters without //, /./, /../, %2F or #)"),
            "change the path in the GatewayRoute first",
        );
    }
}

/// Whether `name` can stand as one segment of a path Gateway API accepts, as it is.
pub(super) fn is_path_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&c))
}

/// An HTTP token (header and query parameter names).
pub(super) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// A DNS-1123 label (namespace names).
pub(super) fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A Gateway API host name: lower-case DNS labels, with a leading `*.` where `wildcard`.
pub(super) fn is_hostname(host: &str, wildcard: bool) -> bool {
    let name = match host.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        _ => host,
    };
    host.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What GRPCRoute accepts as an exact service name.
pub(super) fn is_grpc_service(name: &str) -> bool {
    let name = name.strip_prefix('.').unwrap_or(name);
    name.len() <= 1024
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}
