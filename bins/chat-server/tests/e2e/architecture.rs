//! The dependency rules of docs/ARCHITECTURE.md, checked from `cargo metadata`.

use cargo_metadata::{DependencyKind, MetadataCommand, Package};

fn workspace_packages() -> Vec<Package> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let metadata = MetadataCommand::new().manifest_path(manifest).no_deps().exec().unwrap();
    metadata.workspace_packages().into_iter().cloned().collect()
}

fn normal_dependencies(package: &Package) -> Vec<(String, bool)> {
    package
        .dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Normal)
        .map(|d| (d.name.clone(), d.optional))
        .collect()
}

#[test]
fn core_depends_on_no_adapter_runtime_web_database_or_redis_crate() {
    let packages = workspace_packages();
    let core = packages.iter().find(|p| p.name.as_str() == "chat-core").unwrap();
    let forbidden = [
        "tokio",
        "axum",
        "hyper",
        "tower",
        "diesel",
        "diesel-async",
        "redis",
        "bb8",
        "bb8-redis",
        "reqwest",
        "sqlx",
        "async-std",
    ];
    for (name, optional) in normal_dependencies(core) {
        assert!(!name.starts_with("chat-"), "chat-core depends on {name}");
        assert!(!forbidden.contains(&name.as_str()), "chat-core depends on {name}");
        // The optional extras: schema derives for the OpenAPI document and the testkit's
        // future combinators; neither does IO.
        if optional {
            let allowed = ["utoipa", "futures-util"];
            assert!(allowed.contains(&name.as_str()), "unexpected optional dependency {name} of chat-core");
        }
    }
}

#[test]
fn adapters_depend_on_core_and_never_on_each_other() {
    let packages = workspace_packages();
    let adapters: Vec<&Package> = packages.iter().filter(|p| p.manifest_path.as_str().contains("/adapters/")).collect();
    assert!(adapters.len() >= 3, "found adapters: {:?}", adapters.iter().map(|p| p.name.as_str()).collect::<Vec<_>>());
    for adapter in adapters {
        for dependency in &adapter.dependencies {
            let name = dependency.name.as_str();
            // A crate may dev-depend on itself to turn on its own test features.
            if name.starts_with("chat-") && name != adapter.name.as_str() {
                assert_eq!(name, "chat-core", "{} depends on {name} ({:?})", adapter.name, dependency.kind);
            }
        }
    }
}
