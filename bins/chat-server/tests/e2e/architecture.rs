//! The dependency rules of docs/ARCHITECTURE.md, checked on the resolved dependency graph of
//! `cargo metadata`: a forbidden crate pulled in indirectly fails as surely as a direct one.

use std::collections::{BTreeSet, HashMap};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Node, PackageId};

/// Crates that do IO, run a runtime or speak a wire protocol: none may reach `chat-core`.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "axum",
    "hyper",
    "tower",
    "tungstenite",
    "reqwest",
    "diesel",
    "diesel-async",
    "tokio-postgres",
    "sqlx",
    "redis",
    "bb8",
    "bb8-redis",
];

fn metadata() -> Metadata {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    MetadataCommand::new().manifest_path(manifest).exec().unwrap()
}

/// The name of every package a package reaches through normal (not dev or build) dependency
/// edges, with features resolved as the workspace builds them.
fn normal_closure(metadata: &Metadata, root: &str) -> BTreeSet<String> {
    let resolve = metadata.resolve.as_ref().unwrap();
    let nodes: HashMap<&PackageId, &Node> = resolve.nodes.iter().map(|node| (&node.id, node)).collect();
    let name_of = |id: &PackageId| metadata[id].name.to_string();
    let start = metadata.workspace_packages().into_iter().find(|p| p.name.as_str() == root).unwrap().id.clone();
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for dependency in &nodes[&id].deps {
            let normal = dependency.dep_kinds.iter().any(|kind| kind.kind == DependencyKind::Normal);
            if normal {
                names.insert(name_of(&dependency.pkg));
                stack.push(dependency.pkg.clone());
            }
        }
    }
    names
}

#[test]
fn core_reaches_no_adapter_runtime_web_database_or_redis_crate() {
    let metadata = metadata();
    let reached = normal_closure(&metadata, "chat-core");
    assert!(reached.contains("uuid"), "the walk found core's own dependencies: {reached:?}");
    // The walk goes past direct dependencies: the HTTP adapter reaches mio only through tokio.
    assert!(normal_closure(&metadata, "chat-http").contains("mio"), "the walk stops at direct dependencies");
    let chat: Vec<&String> = reached.iter().filter(|name| name.starts_with("chat-")).collect();
    assert!(chat.is_empty(), "chat-core reaches {chat:?}");
    let forbidden: Vec<&String> = reached.iter().filter(|name| FORBIDDEN_IN_CORE.contains(&name.as_str())).collect();
    assert!(forbidden.is_empty(), "chat-core reaches {forbidden:?} (all it reaches: {reached:?})");
}

#[test]
fn adapters_reach_core_and_never_each_other() {
    let metadata = metadata();
    let adapters: Vec<String> = metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| p.manifest_path.as_str().contains("/adapters/"))
        .map(|p| p.name.to_string())
        .collect();
    assert!(adapters.len() >= 3, "found adapters: {adapters:?}");
    for adapter in &adapters {
        let reached = normal_closure(&metadata, adapter);
        assert!(reached.contains("chat-core"), "{adapter} does not depend on chat-core");
        let others: Vec<&String> =
            reached.iter().filter(|name| name.starts_with("chat-") && name.as_str() != "chat-core").collect();
        assert!(others.is_empty(), "{adapter} reaches {others:?}");
    }
    // Dev-dependencies too: an adapter's tests use the core's testkit, not another adapter.
    for package in metadata.workspace_packages().into_iter().filter(|p| adapters.contains(&p.name.to_string())) {
        for dependency in &package.dependencies {
            let name = dependency.name.as_str();
            // A crate may dev-depend on itself to turn on its own test features.
            if name.starts_with("chat-") && name != package.name.as_str() {
                assert_eq!(name, "chat-core", "{} depends on {name} ({:?})", package.name, dependency.kind);
            }
        }
    }
}
