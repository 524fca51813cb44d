//! Golden files: what a command printed, compared byte for byte with the file that holds what it
//! must print, or written into it on purpose with `MESHROUTE_BLESS=1` (`make bless`; review the
//! diff).

use std::path::Path;

/// Whether this run rewrites the golden files instead of comparing with them.
pub fn blessing() -> bool {
    std::env::var_os("MESHROUTE_BLESS").is_some()
}

/// Compares `actual` with the golden file `path` (or, when blessing, writes it there); a
/// difference is added to `failures`, with the first line that differs.
pub fn check(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if blessing() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{}: differs from what was printed, {} (MESHROUTE_BLESS=1 rewrites it):\n{actual}",
            path.display(),
            first_difference(actual, &expected)
        ));
    }
}

/// The first line where `got` and `want` differ, both shown.
fn first_difference(got: &str, want: &str) -> String {
    let (mut g, mut w) = (got.lines(), want.lines());
    for line in 1.. {
        match (g.next(), w.next()) {
            (None, None) => break,
            (a, b) if a == b => continue,
            (a, b) => {
                return format!(
                    "line {line}: got {:?}, want {:?}",
                    a.unwrap_or("<end>"),
                    b.unwrap_or("<end>")
                );
            }
        }
    }
    "only in the last newline".into()
}
