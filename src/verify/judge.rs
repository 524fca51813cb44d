//! Whether a difference between App Mesh's answer and Gateway API's was announced: the one rule,
//! which `verify` and tests/traffic.rs both apply. A difference is announced when, for each
//! kind of difference (backend, path, Host), a finding of a route that took the request on
//! either side predicts that kind for that request.

use std::collections::{BTreeSet, HashMap};

use regex::Regex;

use crate::gatewayapi::{Aspect, Code, Finding, Requests};

/// Which requests a finding is about, ready to test.
enum About {
    All,
    Path(Regex),
    Host(Regex),
    SharedWith(String),
}

struct Predicted {
    code: Code,
    accepted: bool,
    differs: &'static [Aspect],
    about: About,
}

/// The findings of an export, by GatewayRoute.
pub struct Judge {
    by_route: HashMap<String, Vec<Predicted>>,
}

/// What the findings say of one difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Announced by findings of these codes; `accepted` when every kind of difference has an
    /// accepted finding that predicts it.
    Announced {
        codes: BTreeSet<Code>,
        accepted: bool,
    },
    /// No finding predicts these kinds of difference.
    Unannounced(Vec<Aspect>),
}

impl Judge {
    pub fn new(findings: &[Finding]) -> Judge {
        let mut by_route: HashMap<String, Vec<Predicted>> = HashMap::new();
        for f in findings {
            let whole = |re: &str| Regex::new(&format!("^(?:{re})$")).ok();
            let about = match &f.predicts.requests {
                Requests::All => Some(About::All),
                Requests::Path(re) => whole(re).map(About::Path),
                Requests::Host(re) => whole(re).map(About::Host),
                Requests::SharedWith(other) => Some(About::SharedWith(other.clone())),
            };
            // A finding whose requests cannot be read predicts nothing.
            if let Some(about) = about {
                by_route
                    .entry(f.object.clone())
                    .or_default()
                    .push(Predicted {
                        code: f.code,
                        accepted: f.accepted,
                        differs: f.predicts.differs,
                        about,
                    });
            }
        }
        Judge { by_route }
    }

    /// The verdict on a request (its path with or without the query, its Host with or without
    /// a port) whose answers differ in `aspects`, taken by the routes `involved` (either side's).
    pub fn verdict(
        &self,
        aspects: &[Aspect],
        path: &str,
        host: &str,
        involved: &[&str],
    ) -> Verdict {
        let path = path.split('?').next().unwrap_or_default();
        let host = host
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut codes = BTreeSet::new();
        let mut accepted = true;
        let mut missing = Vec::new();
        for aspect in aspects {
            let predicting: Vec<&Predicted> = involved
                .iter()
                .flat_map(|r| self.by_route.get(*r).into_iter().flatten())
                .filter(|p| p.differs.contains(aspect))
                .filter(|p| match &p.about {
                    About::All => true,
                    About::Path(re) => re.is_match(path),
                    About::Host(re) => re.is_match(&host),
                    About::SharedWith(other) => involved.contains(&other.as_str()),
                })
                .collect();
            if predicting.is_empty() {
                missing.push(*aspect);
            }
            accepted &= predicting.iter().any(|p| p.accepted);
            codes.extend(predicting.iter().map(|p| p.code));
        }
        if missing.is_empty() {
            Verdict::Announced { codes, accepted }
        } else {
            Verdict::Unannounced(missing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(object: &str, code: Code, requests: Requests) -> Finding {
        Finding::about(object.into(), "f", code, String::new(), "", requests)
    }

    /// A difference is announced only by a finding of a route involved that predicts both
    /// the kind of difference and the request.
    #[test]
    fn a_difference_is_announced_only_by_a_finding_that_predicts_it() {
        let mut findings = vec![
            finding(
                "ns/a",
                Code::PrefixSegments,
                Requests::Path("/api[^/].*".into()),
            ),
            finding("ns/h", Code::HostRewrite, Requests::All),
            finding(
                "ns/o",
                Code::PriorityOrder,
                Requests::SharedWith("ns/p".into()),
            ),
        ];
        findings[1].accepted = true;
        let judge = Judge::new(&findings);
        let backend = [Aspect::Backend];
        let announced = |codes: &[Code], accepted| Verdict::Announced {
            codes: codes.iter().copied().collect(),
            accepted,
        };
        let rows = [
            (
                &backend[..],
                "/apix?q=1",
                &["ns/a"][..],
                announced(&[Code::PrefixSegments], false),
            ),
            (
                &backend,
                "/api/x",
                &["ns/a"],
                Verdict::Unannounced(vec![Aspect::Backend]),
            ),
            (
                &backend,
                "/apix",
                &["ns/b"],
                Verdict::Unannounced(vec![Aspect::Backend]),
            ),
            (
                &[Aspect::Host],
                "/",
                &["ns/h"],
                announced(&[Code::HostRewrite], true),
            ),
            // A Host rewrite finding does not announce another backend.
            (
                &[Aspect::Host, Aspect::Backend],
                "/",
                &["ns/h"],
                Verdict::Unannounced(vec![Aspect::Backend]),
            ),
            (
                &backend,
                "/",
                &["ns/o", "ns/p"],
                announced(&[Code::PriorityOrder], false),
            ),
            (
                &backend,
                "/",
                &["ns/o", "ns/q"],
                Verdict::Unannounced(vec![Aspect::Backend]),
            ),
        ];
        for (aspects, path, involved, want) in rows {
            assert_eq!(
                judge.verdict(aspects, path, "h:80", involved),
                want,
                "{path} {involved:?}"
            );
        }
    }
}
