//! What a gateway does with a request, as both models say it, and how two answers differ.

use serde::Serialize;

use crate::gatewayapi::Aspect;

/// What a gateway does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Answer {
    /// Sent on to these backends (`namespace/service:port`, each with its weight: one of them
    /// answers, picked by weight), with this path (and query) and Host.
    Sent {
        backends: Vec<(String, u64)>,
        path: String,
        host: String,
    },
    /// Answered by the gateway itself, with this HTTP status.
    Status(u16),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Sent {
                backends,
                path,
                host,
            } => {
                let shown: Vec<String> = match &backends[..] {
                    [(one, _)] => vec![one.clone()],
                    many => many.iter().map(|(b, w)| format!("{b} ({w})")).collect(),
                };
                write!(f, "{} {path} Host {host}", shown.join(" + "))
            }
            Answer::Status(status) => write!(f, "HTTP {status}"),
        }
    }
}

/// An answer, and the GatewayRoute (`namespace/name`) whose route gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taken {
    pub answer: Answer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Taken {
    /// The gateway's own answer `status`, by no route.
    pub fn status(status: u16) -> Taken {
        Taken {
            answer: Answer::Status(status),
            by: None,
        }
    }
}

/// What differs between two answers: the backend (another one, other weights, or an answer of
/// the gateway's own where the other sent the request on), or for the same backends the path or
/// Host they are sent.
pub fn differences(a: &Answer, b: &Answer) -> Vec<Aspect> {
    match (a, b) {
        (
            Answer::Sent {
                backends: ba,
                path: pa,
                host: ha,
            },
            Answer::Sent {
                backends: bb,
                path: pb,
                host: hb,
            },
        ) if same_split(ba, bb) => [(Aspect::Path, pa != pb), (Aspect::Host, ha != hb)]
            .into_iter()
            .filter_map(|(aspect, differs)| differs.then_some(aspect))
            .collect(),
        _ if a == b => Vec::new(),
        _ => vec![Aspect::Backend],
    }
}

/// The same backends with the same shares of the requests (weights 90/10 and 9/1 split alike);
/// a backend of weight 0 takes none.
fn same_split(a: &[(String, u64)], b: &[(String, u64)]) -> bool {
    let shares = |v: &[(String, u64)]| {
        let mut v: Vec<(String, u64)> = v.iter().filter(|(_, w)| *w > 0).cloned().collect();
        v.sort();
        let total: u64 = v.iter().map(|(_, w)| w).sum();
        (v, total)
    };
    let ((a, ta), (b, tb)) = (shares(a), shares(b));
    a.len() == b.len()
        && a.iter().zip(&b).all(|((na, wa), (nb, wb))| {
            na == nb && u128::from(*wa) * u128::from(tb) == u128::from(*wb) * u128::from(ta)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(backends: &[(&str, u64)], path: &str, host: &str) -> Answer {
        Answer::Sent {
            backends: backends.iter().map(|(b, w)| (b.to_string(), *w)).collect(),
            path: path.into(),
            host: host.into(),
        }
    }

    #[test]
    fn answers_differ_by_backend_first_then_by_path_and_host() {
        let rows = [
            (
                sent(&[("a", 1)], "/", "h"),
                sent(&[("a", 1)], "/", "h"),
                vec![],
            ),
            (
                sent(&[("a", 1)], "/", "h"),
                sent(&[("a", 1)], "/x", "g"),
                vec![Aspect::Path, Aspect::Host],
            ),
            (
                sent(&[("a", 1)], "/", "h"),
                sent(&[("b", 1)], "/x", "h"),
                vec![Aspect::Backend],
            ),
            (
                sent(&[("a", 90), ("b", 10)], "/", "h"),
                sent(&[("b", 1), ("a", 9)], "/", "h"),
                vec![],
            ),
            (
                sent(&[("a", 90), ("b", 10)], "/", "h"),
                sent(&[("a", 1), ("b", 1)], "/", "h"),
                vec![Aspect::Backend],
            ),
            (
                sent(&[("a", 1), ("b", 0)], "/", "h"),
                sent(&[("a", 5)], "/", "h"),
                vec![],
            ),
            (
                Answer::Status(404),
                sent(&[("a", 1)], "/", "h"),
                vec![Aspect::Backend],
            ),
            (Answer::Status(404), Answer::Status(404), vec![]),
            (
                Answer::Status(404),
                Answer::Status(500),
                vec![Aspect::Backend],
            ),
        ];
        for (a, b, want) in rows {
            assert_eq!(differences(&a, &b), want, "{a} vs {b}");
        }
    }
}
