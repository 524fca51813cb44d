//! A YAML or JSON document as read, every node with its line and its YAML tag, so a reader can
//! say where a route came from (`file:line`) and CloudFormation's short forms (`!Ref`, `!Sub`)
//! reach its resolver. Read with `serde-saphyr`, a maintained YAML 1.2 reader (JSON is YAML).

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Spanned, Tagged};

/// One node: a scalar, a sequence or a mapping (keys in the order written).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line where the node starts (for a mapping entry's value: its key's line).
    pub line: usize,
    /// The YAML tag as written (`!Ref`), if any.
    pub tag: Option<String>,
    pub value: Tree,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Every document of `text`; a malformed one (or a key written twice, which the apiserver
/// refuses too) is an error naming its line.
pub fn documents(text: &str) -> Result<Vec<Node>, String> {
    let docs: Vec<Option<Node>> =
        serde_saphyr::from_multiple_with_options(text, options(text)).map_err(first_line)?;
    Ok(docs.into_iter().flatten().collect())
}

/// The reader's limits for `text`. Its defaults against input that expands as it is read
/// (aliases, anchors, nesting) stay. Its counts of documents (1 024), nodes (250 000) and parser
/// events (1 000 000) grow with the text, which cannot hold more nodes than bytes, nor more
/// events than two per node and document: `kubectl get gwr -A -o yaml` of 10 000 routes is
/// one List of about 300 000 nodes, and a stream of them 10 000 documents.
fn options(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = budget.max_documents.max(text.len());
    budget.max_nodes = budget.max_nodes.max(text.len());
    budget.max_events = budget.max_events.max(4 * text.len() + 4);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// The first line of a reader's error (its source snippet follows on the next lines).
fn first_line(e: serde_saphyr::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

impl Node {
    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Tree::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Tree::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a sequence (none for any other node).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Tree::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Tree::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The node as JSON, tags dropped (for formats without tags).
    pub fn to_json(&self) -> Value {
        match &self.value {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(*b),
            Tree::Int(i) => Value::from(*i),
            Tree::Float(f) => Value::from(*f),
            Tree::Str(s) => Value::String(s.clone()),
            Tree::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Tree::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TreeVisitor;
        impl<'de> Visitor<'de> for TreeVisitor {
            type Value = Tree;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML node")
            }
            fn visit_unit<E>(self) -> Result<Tree, E> {
                Ok(Tree::Null)
            }
            fn visit_none<E>(self) -> Result<Tree, E> {
                Ok(Tree::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
                Tree::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
                Ok(Tree::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Tree, E> {
                Ok(Tree::Int(i))
            }
            fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Tree, E> {
                i64::try_from(u)
                    .map(Tree::Int)
                    .map_err(|_| E::custom(format!("{u} is out of range")))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Tree, E> {
                Ok(Tree::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
                Ok(Tree::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Tree, E> {
                Ok(Tree::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Tree::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
                let mut entries: Vec<(String, Node)> = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let mut value: Node = map.next_value()?;
                    value.line = key.referenced.line() as usize;
                    entries.push((key.value, value));
                }
                Ok(Tree::Map(entries))
            }
        }
        deserializer.deserialize_any(TreeVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node: Spanned<Tagged<Tree>> = Spanned::deserialize(deserializer)?;
        Ok(Node {
            line: node.referenced.line() as usize,
            tag: node.value.1,
            value: node.value.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster's worth of routes in one file (`kubectl get gwr -A -o yaml` of 10 000 is one
    /// List of about 300 000 nodes; `-o yaml` per object, a stream of 10 000 documents) is read;
    /// an alias that expands past the reader's limits is still refused.
    #[test]
    fn large_files_are_read_and_expanding_ones_refused() {
        let item = "- {kind: GatewayRoute, metadata: {name: r}, spec: {a: [1, 2, 3], b: {c: d}}}\n";
        let list = format!("kind: List\nitems:\n{}", item.repeat(25_000));
        let docs = documents(&list).unwrap();
        assert_eq!(docs[0].get("items").unwrap().items().len(), 25_000);
        let stream = "---\nkind: GatewayRoute\n".repeat(2_000);
        assert_eq!(documents(&stream).unwrap().len(), 2_000);
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (n, prev) in ('b'..='k').zip('a'..) {
            bomb += &format!(
                "{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            );
        }
        assert!(
            documents(&bomb).is_err(),
            "10^11 nodes from a few hundred bytes"
        );
    }

    #[test]
    fn lines_tags_and_documents() {
        let docs = documents(
            "Resources:\n  R:\n    Type: AWS::AppMesh::GatewayRoute\n    Properties:\n      MeshName: !Ref Mesh\n      Port: 8080\n---\n---\n{\"a\": [1, \"x\"]}\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2, "{docs:?}");
        let r = docs[0].get("Resources").unwrap().get("R").unwrap();
        assert_eq!(r.line, 2);
        let mesh = r.get("Properties").unwrap().get("MeshName").unwrap();
        assert_eq!(
            (mesh.line, mesh.tag.as_deref(), mesh.as_str()),
            (5, Some("!Ref"), Some("Mesh"))
        );
        assert_eq!(docs[1].to_json(), serde_json::json!({ "a": [1, "x"] }));
        assert_eq!(docs[1].line, 9);
    }

    #[test]
    fn malformed_text_and_duplicate_keys_name_their_line() {
        let e = documents("a: 1\nb: [1\nc: 2\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(
            e.contains("line 3") && e.contains("duplicate mapping key: a"),
            "{e}"
        );
    }
}
