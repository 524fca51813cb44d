//! YAML that every Kubernetes client reads back as written. A YAML 1.2 writer leaves `no`,
//! `on` or `y` plain, as strings; kubectl, helm and Argo CD read YAML 1.1, where they are
//! booleans, so a header value `no` came back as `false` and the apiserver refused the object.
//! Here any string that is not plainly a string in both is written double-quoted.

use serde_json::Value;

/// One YAML document (without the `---` line) for `value`.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => block_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => block_seq(items, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn block_map(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        nested(value, indent, out);
    }
}

fn block_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            // The first entry of a map shares the dash's line; the rest align with it.
            Value::Object(map) if !map.is_empty() => {
                let mut inner = String::new();
                block_map(map, indent + 2, &mut inner);
                out.push_str(&inner[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                block_seq(inner, indent + 2, out);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// A map value after `key:`.
fn nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block_map(map, indent + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            block_seq(items, indent, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// Plain when it cannot be read as anything but this string (YAML 1.1 or 1.2), else a JSON
/// string, which is a valid YAML double-quoted scalar.
fn string(s: &str) -> String {
    const SPECIAL: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ];
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !SPECIAL.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_booleans_numbers_and_specials_are_quoted_and_everything_round_trips() {
        let value = json!({
            "apiVersion": "meshroute.io/v1alpha1",
            "metadata": { "name": "web", "annotations": { "meshroute.io/adopt": "true" } },
            "spec": {
                "values": ["no", "On", "y", "NULL", "~", "1", "0x1f", "1e3", "2026-12-02", "",
                           " lead", "a: b", "#x", "*.example.com", "x\ny", "ünï", "/v1/", "web-1"],
                "nested": [{ "name": "a", "match": { "exact": "no" } }, { "name": "b" }, [1, 2]],
                "empty": {}, "none": [], "n": 3, "t": true, "z": null,
            },
        });
        let yaml = document(&value);
        assert!(
            yaml.contains("\"no\"") && yaml.contains("\"On\"") && yaml.contains("\"true\""),
            "{yaml}"
        );
        assert!(
            yaml.contains("name: web\n") && yaml.contains("- /v1/\n"),
            "{yaml}"
        );
        // Read back as YAML 1.2 it is the same value; the YAML 1.1 readers differ only in
        // unquoted scalars, and every ambiguous one is quoted.
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, value, "{yaml}");
    }
}
