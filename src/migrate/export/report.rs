//! The findings report `export` prints on stderr: a summary, then each finding.

use std::collections::BTreeSet;

use serde_json::json;

use super::ReportFormat;
use crate::gatewayapi::{Export, Impact};

/// The report of an export of `read` GatewayRoutes, on stderr.
pub fn print(export: &Export, read: usize, format: ReportFormat) {
    let count = |kind: &str| export.objects.iter().filter(|o| o.kind() == kind).count();
    let impact = |i: Impact| export.findings.iter().filter(|f| f.impact == i).count();
    let dropped: BTreeSet<&str> = export
        .findings
        .iter()
        .filter(|f| f.impact == Impact::NotExported)
        .map(|f| f.object.as_str())
        .collect();
    let summary = json!({
        "gatewayRoutes": read,
        "httpRoutes": count("HTTPRoute"),
        "grpcRoutes": count("GRPCRoute"),
        "gateways": count("Gateway"),
        "referenceGrants": count("ReferenceGrant"),
        "notExported": dropped.len(),
        "changed": impact(Impact::Changed),
        "check": impact(Impact::Check),
        "accepted": export.findings.iter().filter(|f| f.accepted).count(),
    });
    match format {
        ReportFormat::Json => eprintln!(
            "{}",
            json!({ "summary": summary, "findings": export.findings })
        ),
        ReportFormat::Text => {
            eprintln!(
                "meshroute export: {read} GatewayRoutes -> {} HTTPRoutes, {} GRPCRoutes, {} \
                 Gateways, {} ReferenceGrants; {} not exported, {} behaviour changes, {} to \
                 check, {} accepted",
                summary["httpRoutes"],
                summary["grpcRoutes"],
                summary["gateways"],
                summary["referenceGrants"],
                dropped.len(),
                summary["changed"],
                summary["check"],
                summary["accepted"]
            );
            for f in &export.findings {
                let impact = match f.impact {
                    Impact::NotExported => "NOT EXPORTED",
                    Impact::Changed => "changed",
                    Impact::Check => "check",
                };
                let accepted = if f.accepted { ", accepted" } else { "" };
                eprintln!(
                    "{} [{impact} {}{accepted}] {}: {}; {}",
                    f.object,
                    f.code.as_str(),
                    f.field,
                    f.problem,
                    f.advice
                );
            }
        }
    }
}
