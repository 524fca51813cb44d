//! Regular expressions as routes name them, compiled once per thread: a gateway matches the same
//! few expressions against every request, and compiling one costs far more than a match.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

/// Compiled expressions kept per thread at most; past it the cache starts again (routes change
/// rarely, so it stays warm).
const KEPT: usize = 4096;

thread_local! {
    static COMPILED: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// Whether `pattern` matches anywhere in `value` (anchor the pattern to match all of it); an
/// expression that does not compile matches nothing.
pub fn is_match(pattern: &str, value: &str) -> bool {
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        if let Some(re) = compiled.get(pattern) {
            return re.as_ref().is_some_and(|re| re.is_match(value));
        }
        if compiled.len() >= KEPT {
            compiled.clear();
        }
        let re = Regex::new(pattern).ok();
        let found = re.as_ref().is_some_and(|re| re.is_match(value));
        compiled.insert(pattern.to_string(), re);
        found
    })
}

#[cfg(test)]
mod tests {
    use super::is_match;

    #[test]
    fn matches_as_the_expression_says_compiled_or_cached() {
        for _ in 0..2 {
            assert!(is_match("^(?:/a[0-9]+)$", "/a12"));
            assert!(!is_match("^(?:/a[0-9]+)$", "/x/a12"));
            assert!(is_match("/a[0-9]+", "/x/a12"));
            assert!(!is_match("(", "("), "an invalid expression matches nothing");
        }
    }
}
