//! Routes that collide on one virtual gateway. Every watched route's match is indexed by its
//! (mesh, virtual gateway), so checking one route against the others on its gateway costs no
//! App Mesh call and no scan of the cluster: a route whose match and priority another, older,
//! route has is refused (`RouteConflict`); a route that an earlier route (by App Mesh's order)
//! takes every request of is `Shadowed` (a warning). The comparisons are `api::matching`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use kube::ResourceExt;

use super::cache::Key;
use crate::api::GatewayRoute;
use crate::api::matching::{Matcher, PATH_ANY, PATH_EXACT, PATH_PREFIX, PriorityRank, tries_first};

/// (mesh, mesh owner, virtual gateway).
type Gateway = (String, Option<String>, String);

/// One route in the index: about 150 bytes (the index holds every watched route).
#[derive(Debug, Clone)]
struct Entry {
    matcher: Matcher,
    /// Creation time (seconds), then `namespace/name`: the older keeps a contested match.
    created: i64,
    name: Box<str>,
    /// A digest of its App Mesh route's name: two objects for one App Mesh route are a name
    /// conflict (NameInUse, decided by ownership), not two colliding routes.
    app_mesh: u64,
    /// Being deleted: its verdict no longer matters, so changes of others do not wake it (a
    /// mass delete would otherwise wake every related object once per deletion).
    deleting: bool,
}

impl Entry {
    fn age(&self) -> (i64, &str) {
        (self.created, &self.name)
    }

    /// The queue's reference to it.
    fn key(&self) -> Key {
        let (namespace, name) = self.name.split_once('/').unwrap_or_default();
        Key::new(name).within(namespace)
    }
}

/// What the other routes on its gateway mean for a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clear,
    /// An older route (`namespace/name`) has the same match and priority.
    Conflict(String),
    /// A route (`namespace/name`) App Mesh tries first takes every request this one matches.
    Shadowed(String),
}

/// The index, shared by the watch (which keeps it) and the reconciles (which read it).
#[derive(Default)]
pub struct Gateways {
    by_gateway: Mutex<HashMap<Gateway, OnGateway>>,
}

/// The routes of one gateway.
#[derive(Default)]
struct OnGateway {
    /// Each route by a digest of its namespace and name.
    entries: HashMap<u64, Entry>,
    /// The same ids by (path value, path kind), so that the routes that may cover a route, or
    /// that it may cover, are found without comparing every route on the gateway (10 000 on
    /// one gateway are common). Most paths are one route's: a vector, not a set.
    by_path: BTreeMap<(Box<str>, u8), Vec<u64>>,
}

impl OnGateway {
    fn insert(&mut self, id: u64, entry: Entry) {
        let (kind, path) = entry.matcher.path_key();
        let ids = self.by_path.entry((path.into(), kind)).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
        self.entries.insert(id, entry);
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        let (kind, path) = entry.matcher.path_key();
        let key = (Box::from(path), kind);
        if let Some(ids) = self.by_path.get_mut(&key) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_path.remove(&key);
            }
        }
        Some(entry)
    }

    fn bucket(&self, path: &str, kind: u8) -> impl Iterator<Item = u64> + '_ {
        self.by_path
            .get(&(Box::from(path), kind))
            .into_iter()
            .flatten()
            .copied()
    }

    /// The routes whose path may cover `m`'s: every path, a prefix of its path, or its path.
    fn may_cover(&self, m: &Matcher) -> HashSet<u64> {
        let (kind, path) = m.path_key();
        let mut ids: HashSet<u64> = self
            .bucket("", PATH_ANY)
            .chain(self.bucket(path, kind))
            .collect();
        if kind == PATH_PREFIX || kind == PATH_EXACT {
            for end in (0..=path.len()).filter(|end| path.is_char_boundary(*end)) {
                ids.extend(self.bucket(&path[..end], PATH_PREFIX));
            }
        }
        ids
    }

    /// The routes whose path `m`'s may cover: all for every path, the prefixes and exact paths
    /// under its prefix, or its own path.
    fn may_be_covered(&self, m: &Matcher) -> HashSet<u64> {
        let (kind, path) = m.path_key();
        match kind {
            PATH_ANY => self.entries.keys().copied().collect(),
            PATH_PREFIX => self
                .by_path
                .range((Box::from(path), 0)..)
                .take_while(|((p, _), _)| p.starts_with(path))
                .filter(|((_, k), _)| *k == PATH_PREFIX || *k == PATH_EXACT)
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect(),
            _ => self.bucket(path, kind).collect(),
        }
    }
}

fn gateway_of(route: &GatewayRoute) -> Gateway {
    let s = &route.spec;
    (
        s.mesh_name.clone(),
        s.mesh_owner.clone(),
        s.virtual_gateway_name.clone(),
    )
}

fn name_of(route: &GatewayRoute) -> String {
    format!(
        "{}/{}",
        route.namespace().unwrap_or_default(),
        route.name_any()
    )
}

fn id_of(name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

fn entry_of(route: &GatewayRoute) -> Option<Entry> {
    Some(Entry {
        matcher: Matcher::of(&route.spec)?,
        created: route
            .creation_timestamp()
            .map_or(i64::MAX, |t| t.0.as_second()),
        name: name_of(route).into(),
        app_mesh: id_of(&route.app_mesh_name()),
        deleting: route.metadata.deletion_timestamp.is_some(),
    })
}

/// Whether `a` and `b` have a say in each other's verdict.
fn related(a: &Matcher, b: &Matcher) -> bool {
    a.same_requests(b) || a.covers(b) || b.covers(a)
}

impl Gateways {
    /// Records `route` as it is now (or, `deleted`, forgets it). Returns the other routes on its
    /// gateway whose verdict may have changed with it (none while `listing`: every object is
    /// reconciled or checked after the first list anyway).
    pub fn record(&self, route: &GatewayRoute, deleted: bool, listing: bool) -> Vec<Key> {
        let id = id_of(&name_of(route));
        let mut all = self.by_gateway.lock().unwrap_or_else(|e| e.into_inner());
        // A route's gateway never changes (the CRD makes it immutable).
        let routes = all.entry(gateway_of(route)).or_default();
        let before = routes.remove(id);
        let now = if deleted { None } else { entry_of(route) };
        // A status write or any change that leaves the match as it was changes no verdict.
        let unchanged = match (&before, &now) {
            (Some(b), Some(n)) => b.matcher == n.matcher,
            _ => false,
        };
        let affected = if listing || unchanged {
            Vec::new()
        } else {
            let candidates: HashSet<u64> = [&before, &now]
                .into_iter()
                .flatten()
                .flat_map(|x| {
                    let mut ids = routes.may_cover(&x.matcher);
                    ids.extend(routes.may_be_covered(&x.matcher));
                    ids
                })
                .collect();
            candidates
                .iter()
                .filter_map(|other| routes.entries.get(other))
                .filter(|e| !e.deleting)
                .filter(|e| {
                    [&before, &now]
                        .into_iter()
                        .flatten()
                        .any(|x| related(&x.matcher, &e.matcher))
                })
                .map(Entry::key)
                .collect()
        };
        if let Some(entry) = now {
            routes.insert(id, entry);
        }
        affected
    }

    /// What the other routes on `route`'s gateway mean for it.
    pub fn verdict(&self, route: &GatewayRoute) -> Verdict {
        let Some(me) = entry_of(route) else {
            return Verdict::Clear;
        };
        let all = self.by_gateway.lock().unwrap_or_else(|e| e.into_inner());
        let Some(routes) = all.get(&gateway_of(route)) else {
            return Verdict::Clear;
        };
        // Only a route that may cover this one can conflict with it (the same match) or
        // shadow it.
        let candidates = routes.may_cover(&me.matcher);
        let others = candidates
            .iter()
            .filter_map(|id| routes.entries.get(id))
            .filter(|e| e.name != me.name && e.app_mesh != me.app_mesh);
        // Of the routes that shadow it, the one App Mesh tries first (then the oldest).
        let mut shadowed: Option<&Entry> = None;
        fn order(e: &Entry) -> (PriorityRank, (i64, &str)) {
            (PriorityRank::of(e.matcher.priority), e.age())
        }
        for other in others {
            if other.matcher == me.matcher && other.age() < me.age() {
                return Verdict::Conflict(other.name.to_string());
            }
            let first = tries_first(other.matcher.priority, me.matcher.priority) == Some(true);
            if first
                && other.matcher.covers(&me.matcher)
                && shadowed.is_none_or(|s| order(other) < order(s))
            {
                shadowed = Some(other);
            }
        }
        shadowed.map_or(Verdict::Clear, |s| Verdict::Shadowed(s.name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn route(name: &str, created: &str, priority: i32, m: Value) -> (Key, GatewayRoute) {
        let r: GatewayRoute = serde_json::from_value(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name, "namespace": "ns", "creationTimestamp": created },
            "spec": { "meshName": "m", "virtualGatewayName": "g", "priority": priority,
                "httpRoute": { "match": m, "action": { "target": { "virtualService": {
                    "virtualServiceName": "s" } } } } } }))
        .unwrap();
        (Key::new(name).within("ns"), r)
    }

    #[test]
    fn the_younger_of_two_same_routes_conflicts_and_an_earlier_wider_route_shadows() {
        let g = Gateways::default();
        let (_, a) = route("a", "2026-01-01T00:00:00Z", 5, json!({ "prefix": "/api/" }));
        let (kb, b) = route("b", "2026-01-02T00:00:00Z", 5, json!({ "prefix": "/api/" }));
        let (kc, c) = route(
            "c",
            "2026-01-03T00:00:00Z",
            9,
            json!({ "prefix": "/api/v1/" }),
        );
        let (kd, d) = route("d", "2026-01-04T00:00:00Z", 1, json!({ "prefix": "/web/" }));
        for r in [&a, &b, &c, &d] {
            g.record(r, false, true);
        }
        assert_eq!(g.verdict(&a), Verdict::Clear);
        assert_eq!(g.verdict(&b), Verdict::Conflict("ns/a".into()));
        assert_eq!(g.verdict(&c), Verdict::Shadowed("ns/a".into()));
        assert_eq!(g.verdict(&d), Verdict::Clear);
        // The older one goes: the younger is woken and clear; c is still shadowed, by b now.
        let woken = g.record(&a, true, false);
        assert!(
            woken.contains(&kb) && woken.contains(&kc) && !woken.contains(&kd),
            "{woken:?}"
        );
        assert_eq!(g.verdict(&b), Verdict::Clear);
        assert_eq!(g.verdict(&c), Verdict::Shadowed("ns/b".into()));
    }

    /// The path index finds exactly the routes a comparison with every route would: each
    /// route's verdict and the routes a change wakes, over every kind of path.
    #[test]
    fn the_path_index_finds_what_comparing_every_route_finds() {
        let matches = [
            json!({}),
            json!({ "prefix": "/" }),
            json!({ "prefix": "/a" }),
            json!({ "prefix": "/a/" }),
            json!({ "prefix": "/ab" }),
            json!({ "prefix": "/é/" }),
            json!({ "path": { "exact": "/a/b" } }),
            json!({ "path": { "exact": "/é/x" } }),
            json!({ "path": { "regex": "/a/.*" } }),
            json!({ "prefix": "/a/", "hostname": { "exact": "x.example" } }),
        ];
        let g = Gateways::default();
        let mut routes = Vec::new();
        for (i, m) in matches.iter().enumerate() {
            let created = format!("2026-01-{:02}T00:00:00Z", i + 1);
            // Priorities from wide to narrow, so that many routes shadow others.
            routes.push(route(&format!("r{i}"), &created, i as i32, m.clone()));
        }
        for (_, r) in &routes {
            g.record(r, false, true);
        }
        let entries: Vec<Entry> = routes.iter().map(|(_, r)| entry_of(r).unwrap()).collect();
        for (i, (_, r)) in routes.iter().enumerate() {
            let me = &entries[i];
            // Of the routes tried first that cover it, the first in App Mesh's order.
            let shadowed = entries
                .iter()
                .filter(|o| o.name != me.name)
                .filter(|o| tries_first(o.matcher.priority, me.matcher.priority) == Some(true))
                .filter(|o| o.matcher.covers(&me.matcher))
                .min_by_key(|o| (PriorityRank::of(o.matcher.priority), o.age()))
                .map(|o| Verdict::Shadowed(o.name.to_string()));
            assert_eq!(
                g.verdict(r),
                shadowed.unwrap_or(Verdict::Clear),
                "{}",
                me.name
            );
            let related_ones: HashSet<Key> = entries
                .iter()
                .filter(|o| o.name != me.name && related(&me.matcher, &o.matcher))
                .map(Entry::key)
                .collect();
            let woken: HashSet<Key> = g.record(r, true, false).into_iter().collect();
            assert_eq!(woken, related_ones, "{}", me.name);
            g.record(r, false, true);
        }
    }
}
