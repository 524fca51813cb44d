//! Matches GatewayRoutes of every kind share: headers and gRPC metadata, host names, the
//! listener port.

use std::collections::BTreeSet;

use super::objects::{MatchType, ValueMatch};

use super::valid::{is_hostname, is_token};
use super::{Code, Findings, Requests};
use crate::api::{
    EnabledDisabled, GatewayRouteHostnameMatch, GatewayRouteHostnameRewrite, HeaderMatchMethod,
};

/// Whether the route turned App Mesh's default host rewrite off.
pub(super) fn disabled(rewrite: Option<&GatewayRouteHostnameRewrite>) -> bool {
    rewrite.and_then(|h| h.default_target_hostname) == Some(EnabledDisabled::Disabled)
}

/// A header (or gRPC metadata) match, or `None` (with a finding) when Gateway API has none.
pub(super) fn header_match(
    name: &str,
    invert: Option<bool>,
    how: Option<&HeaderMatchMethod>,
    field: &str,
    f: &mut Findings,
) -> Option<ValueMatch> {
    if !is_token(name) {
        f.note(
            Code::HeaderName,
            field,
            format!("{name:?} is not a header name Gateway API accepts"),
            "rename the header",
        );
        return None;
    }
    if invert == Some(true) {
        f.note(
            Code::HeaderInverted,
            field,
            format!("Gateway API cannot match requests whose {name} does NOT match; without that condition the route would take requests App Mesh sent elsewhere"),
            "express the complement as positive matches (one route per value)",
        );
        return None;
    }
    let escape = regex_syntax::escape;
    let (kind, value) = match how {
        None => (MatchType::RegularExpression, ".*".to_string()),
        Some(HeaderMatchMethod {
            exact: Some(exact), ..
        }) => (MatchType::Exact, exact.clone()),
        Some(HeaderMatchMethod {
            regex: Some(regex), ..
        }) => (MatchType::RegularExpression, full_match(regex)),
        Some(HeaderMatchMethod {
            prefix: Some(prefix),
            ..
        }) => (
            MatchType::RegularExpression,
            format!("^{}.*", escape(prefix)),
        ),
        Some(HeaderMatchMethod {
            suffix: Some(suffix),
            ..
        }) => (
            MatchType::RegularExpression,
            format!(".*{}$", escape(suffix)),
        ),
        Some(HeaderMatchMethod {
            range: Some(range), ..
        }) => {
            f.note(
                Code::HeaderRange,
                field,
                format!(
                    "Gateway API has no numeric range match ({name} in [{}, {}))",
                    range.start, range.end
                ),
                "match the values with a RegularExpression in the GatewayRoute first",
            );
            return None;
        }
        Some(_) => (MatchType::RegularExpression, ".*".to_string()),
    };
    if kind == MatchType::RegularExpression {
        regex_check(field, f);
    }
    Some(ValueMatch {
        name: name.to_string(),
        type_: kind,
        value,
    })
}

/// App Mesh's Envoy matches a regular expression against the whole value (RE2 full match:
/// Envoy's `safe_regex`, https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/matcher/v3/regex.proto);
/// Gateway API leaves anchoring to the implementation, and some search instead (Traefik's
/// `PathRegexp` takes `/x/re/1` for `/re/[0-9]+`). An explicit anchor means the same to both.
pub(super) fn full_match(regex: &str) -> String {
    format!("^(?:{regex})$")
}

/// A RegularExpression match depends on the implementation: say so.
pub(super) fn regex_check(field: &str, f: &mut Findings) {
    f.note(
        Code::RegexDialect,
        field,
        "exported as a RegularExpression match, whose support and dialect Gateway API leaves to \
         the implementation (App Mesh's Envoy used RE2)"
            .into(),
        "check that your implementation supports RegularExpression matches with RE2 syntax",
    );
}

/// Gateway API keeps one match per header or query parameter name.
pub(super) fn unique_names(matches: &[ValueMatch], field: &str, f: &mut Findings) {
    let mut seen = BTreeSet::new();
    for m in matches {
        let name = m.name.to_ascii_lowercase();
        if !seen.insert(name.clone()) {
            f.note(
                Code::MatchedTwice,
                field,
                format!("{name} is matched twice; Gateway API allows one match per name"),
                "combine the two conditions into one regular expression",
            );
        }
    }
}

/// The route's host names from App Mesh's hostname match.
pub(super) fn hostnames(
    host: Option<&GatewayRouteHostnameMatch>,
    field: &str,
    f: &mut Findings,
) -> Vec<String> {
    let Some(host) = host else {
        return Vec::new();
    };
    let names = match (&host.exact, &host.suffix) {
        (Some(exact), _) => vec![exact.to_ascii_lowercase()],
        (None, Some(suffix)) => {
            let suffix = suffix.to_ascii_lowercase();
            match suffix.strip_prefix('.') {
                Some(domain) => vec![format!("*.{domain}")],
                None => {
                    f.note_about(
                        Code::HostnameSuffix,
                        field,
                        format!("App Mesh's suffix {suffix} also matched hosts like x{suffix}; Gateway API matches {suffix} and its subdomains only"),
                        "list the other hosts explicitly if clients use them",
                        Requests::Host(format!(".*[^.]{}", regex_syntax::escape(&suffix))),
                    );
                    vec![suffix.clone(), format!("*.{suffix}")]
                }
            }
        }
        (None, None) => return Vec::new(),
    };
    if let Some(bad) = names.iter().find(|n| !is_hostname(n, true)) {
        f.note(
            Code::HostnameRefused,
            field,
            format!("{bad:?} is not a host name Gateway API accepts (no IP addresses, ports or underscores)"),
            "match a DNS name instead",
        );
        return Vec::new();
    }
    names
}

/// The listener port match, as a parentRef port.
pub(super) fn listener_port(port: Option<i32>, field: &str, f: &mut Findings) -> Option<i32> {
    let port = port?;
    f.note(
        Code::ListenerPort,
        field,
        format!("the listener port match became parentRefs[].port {port}, an Extended Gateway API feature; the Gateway needs a listener on {port}"),
        "check that your implementation supports parentRef ports, and give the Gateway that listener",
    );
    Some(port)
}
