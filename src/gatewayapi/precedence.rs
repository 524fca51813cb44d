//! Which of two routes on one Gateway Gateway API tries first where both match a request.

use std::cmp::Ordering;

/// A route's rank under Gateway API's precedence rules (the HTTPRoute API's `hostnames` and
/// `rules` documentation): the most specific host name first, then an Exact path, then the
/// longest prefix, then a method match, then the most header matches, then the most query
/// parameter matches; each rule breaks the ties of the one before. The greater wins. (Gateway
/// API then falls back to the oldest route and to names, which no GatewayRoute decides.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Precedence {
    /// Characters in the route's most specific host name.
    pub hostname: usize,
    /// An Exact path match.
    pub exact_path: bool,
    /// Characters in the path prefix (for a GRPCRoute: in the service name).
    pub prefix: usize,
    /// A method match.
    pub method: bool,
    /// Header (or gRPC metadata) matches.
    pub headers: usize,
    /// Query parameter matches.
    pub query_params: usize,
}

impl Ord for Precedence {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hostname
            .cmp(&other.hostname)
            .then(self.exact_path.cmp(&other.exact_path))
            .then(self.prefix.cmp(&other.prefix))
            .then(self.method.cmp(&other.method))
            .then(self.headers.cmp(&other.headers))
            .then(self.query_params.cmp(&other.query_params))
    }
}

impl PartialOrd for Precedence {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::Precedence;

    #[test]
    fn each_rule_breaks_the_ties_of_the_one_before() {
        let p = Precedence::default;
        // (winner, loser, why)
        let rows = [
            (
                Precedence {
                    hostname: 11,
                    ..p()
                },
                Precedence {
                    exact_path: true,
                    prefix: 40,
                    method: true,
                    headers: 3,
                    ..p()
                },
                "a more specific host beats everything else",
            ),
            (
                Precedence {
                    exact_path: true,
                    prefix: 0,
                    ..p()
                },
                Precedence {
                    prefix: 40,
                    method: true,
                    ..p()
                },
                "an Exact path beats a longer prefix",
            ),
            (
                Precedence { prefix: 5, ..p() },
                Precedence {
                    prefix: 4,
                    method: true,
                    headers: 3,
                    ..p()
                },
                "a longer prefix beats a method and headers",
            ),
            (
                Precedence {
                    prefix: 4,
                    method: true,
                    ..p()
                },
                Precedence {
                    prefix: 4,
                    headers: 3,
                    ..p()
                },
                "a method beats headers",
            ),
            (
                Precedence { headers: 2, ..p() },
                Precedence {
                    headers: 1,
                    query_params: 5,
                    ..p()
                },
                "more headers beat more query parameters",
            ),
            (
                Precedence {
                    query_params: 1,
                    ..p()
                },
                p(),
                "a query parameter beats none",
            ),
        ];
        for (winner, loser, why) in rows {
            assert!(winner > loser, "{why}");
            assert!(loser < winner, "{why}");
        }
        assert_eq!(p().cmp(&p()), std::cmp::Ordering::Equal);
    }
}
