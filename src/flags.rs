//! Parsers of flag values that several commands share.

use std::time::Duration;

/// `90s`, `10m`, `1h`, or `0`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 30s, 10m or 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{s}': use ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    #[test]
    fn durations_in_every_unit() {
        let rows = [
            ("0", Some(Duration::ZERO)),
            ("90", Some(Duration::from_secs(90))),
            ("90s", Some(Duration::from_secs(90))),
            ("250ms", Some(Duration::from_millis(250))),
            ("1.5m", Some(Duration::from_secs(90))),
            ("1h", Some(Duration::from_secs(3600))),
            ("1d", None),
            ("soon", None),
        ];
        for (text, want) in rows {
            assert_eq!(duration(text).ok(), want, "{text}");
        }
    }
}
