//! `verify`'s report on stdout: a summary, each difference with the requests that show it and
//! the finding codes that announced it (or `unannounced`), and totals by route and by code.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::{Checked, Verdict};
use crate::migrate::export::ReportFormat;

/// The counts of a run.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub gateway_routes: usize,
    pub requests: usize,
    /// Answered alike by both.
    pub alike: usize,
    /// Answered differently, as a finding announced.
    pub announced: usize,
    /// Of those, the ones every finding involved was accepted for (`--accept`).
    pub accepted: usize,
    /// Answered differently with no finding that says so.
    pub unannounced: usize,
    /// Requests answered differently, by the GatewayRoute they were made from.
    pub by_route: BTreeMap<String, usize>,
    /// Requests answered differently, by finding code (`unannounced` for none).
    pub by_code: BTreeMap<String, usize>,
}

impl Totals {
    pub fn of(checked: &[Checked], gateway_routes: usize) -> Totals {
        let mut t = Totals {
            gateway_routes,
            requests: checked.len(),
            ..Totals::default()
        };
        for c in checked {
            match &c.verdict {
                None => t.alike += 1,
                Some(verdict) => {
                    *t.by_route.entry(c.request.from.clone()).or_default() += 1;
                    for code in codes(verdict) {
                        *t.by_code.entry(code).or_default() += 1;
                    }
                    match verdict {
                        Verdict::Announced { accepted, .. } => {
                            t.announced += 1;
                            t.accepted += usize::from(*accepted);
                        }
                        Verdict::Unannounced(_) => t.unannounced += 1,
                    }
                }
            }
        }
        t
    }
}

/// A verdict's codes as reports name them.
pub(super) fn codes(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Announced { codes, .. } => codes.iter().map(|c| c.as_str().to_string()).collect(),
        Verdict::Unannounced(_) => vec!["unannounced".into()],
    }
}

/// How many requests of one kind of difference a text report shows.
pub(super) const SHOWN: usize = 5;

/// Prints the report of `checked`; its totals.
pub fn print(checked: &[Checked], gateway_routes: usize, format: ReportFormat) -> Totals {
    let totals = Totals::of(checked, gateway_routes);
    let differing = checked.iter().filter(|c| c.verdict.is_some());
    match format {
        ReportFormat::Json => {
            let differences: Vec<serde_json::Value> = differing
                .map(|c| {
                    let mut v = serde_json::to_value(c).unwrap_or_default();
                    let verdict = c.verdict.as_ref();
                    v["announcedBy"] = json!(verdict.map(codes).unwrap_or_default());
                    v["accepted"] = json!(matches!(
                        verdict,
                        Some(Verdict::Announced { accepted: true, .. })
                    ));
                    v
                })
                .collect();
            println!(
                "{}",
                json!({ "summary": totals, "differences": differences })
            );
        }
        ReportFormat::Text => {
            println!(
                "meshroute verify: {} GatewayRoutes, {} requests: {} alike, {} different as \
                 announced ({} accepted), {} different unannounced",
                totals.gateway_routes,
                totals.requests,
                totals.alike,
                totals.announced,
                totals.accepted,
                totals.unannounced
            );
            // (route made from, verdict's codes, what differs) -> the requests.
            let mut groups: BTreeMap<(String, String, String), Vec<&Checked>> = BTreeMap::new();
            for c in differing {
                let verdict = c.verdict.as_ref().map(codes).unwrap_or_default().join(", ");
                let aspects: Vec<String> = c
                    .differs
                    .iter()
                    .map(|a| format!("{a:?}").to_lowercase())
                    .collect();
                groups
                    .entry((c.request.from.clone(), verdict, aspects.join(", ")))
                    .or_default()
                    .push(c);
            }
            for ((from, verdict, aspects), all) in &groups {
                println!(
                    "{from} [{verdict}] {aspects} differs for {} request(s):",
                    all.len()
                );
                for c in all.iter().take(SHOWN) {
                    println!(
                        "  {} ({}): App Mesh {}{}, Gateway API {}{}",
                        c.request,
                        c.request.why,
                        c.app_mesh.answer,
                        by(&c.app_mesh.by),
                        c.gateway_api.answer,
                        by(&c.gateway_api.by)
                    );
                }
                if all.len() > SHOWN {
                    println!("  ... and {} more", all.len() - SHOWN);
                }
            }
            if !totals.by_code.is_empty() {
                let shown: Vec<String> = totals
                    .by_code
                    .iter()
                    .map(|(code, n)| format!("{code} {n}"))
                    .collect();
                println!("by code: {}", shown.join(", "));
            }
        }
    }
    totals
}

fn by(route: &Option<String>) -> String {
    route
        .as_ref()
        .map_or_else(String::new, |r| format!(" (by {r})"))
}
