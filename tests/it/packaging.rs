//! The packaging files, checked where no package manager or container engine is needed: the
//! packaged configuration lists every setting at its default (uncommented, it is exactly the
//! defaults but for the packaged data directory), one version for every artifact, the systemd
//! unit's hardening and ExecStart, and the container recipe's shape (multi-stage, non-root, no
//! shell at run time, the data directory a volume, a HEALTHCHECK that is the binary itself).
//! `scripts/package` builds the artifacts and `scripts/verify-install` installs them.

use std::{collections::BTreeMap, path::Path};

use keyward::Config;
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The packaged configuration's settings, by dotted key: the value of an `#key = value` line,
/// or None for an `#key =` line (unset by default). Prose comments start with `# `.
fn commented_settings(text: &str) -> (BTreeMap<String, Option<String>>, String) {
    let mut section = String::new();
    let mut settings = BTreeMap::new();
    let mut uncommented = String::new();
    for line in text.lines() {
        let directive =
            line.strip_prefix('#').filter(|rest| rest.starts_with(|c: char| c == '[' || c.is_ascii_lowercase()));
        let line = match directive {
            Some(rest) => rest,
            None if line.starts_with('#') || line.trim().is_empty() => continue,
            None => line,
        };
        if let Some(header) = line.strip_prefix('[') {
            section = header.trim_end_matches(']').to_owned();
            uncommented.push_str(line);
            uncommented.push('\n');
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not key = value: {line}"));
        let key = if section.is_empty() { key.trim().to_owned() } else { format!("{section}.{}", key.trim()) };
        let value = value.trim();
        if value.is_empty() {
            settings.insert(key, None);
        } else {
            settings.insert(key, Some(value.to_owned()));
            uncommented.push_str(line);
            uncommented.push('\n');
        }
    }
    (settings, uncommented)
}

/// Every setting of `Config` by dotted key (tables become their keys; lists and unset options
/// are leaves), with its default as JSON.
fn every_setting(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                every_setting(value, &key, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

#[test]
fn the_packaged_configuration_lists_every_setting_at_its_default() {
    let text = read("packaging/keyward.toml");
    let (listed, uncommented) = commented_settings(&text);
    let mut defaults = BTreeMap::new();
    every_setting(&serde_json::to_value(Config::default()).unwrap(), "", &mut defaults);

    let missing: Vec<&String> = defaults.keys().filter(|key| !listed.contains_key(*key)).collect();
    assert!(
        missing.is_empty(),
        "settings missing from packaging/keyward.toml (add a `#key = default` line): {missing:?}"
    );
    let unknown: Vec<&String> = listed.keys().filter(|key| !defaults.contains_key(*key)).collect();
    assert!(unknown.is_empty(), "packaging/keyward.toml lists settings Config does not have: {unknown:?}");
    for (key, value) in &listed {
        if value.is_none() {
            assert_eq!(defaults[key], Value::Null, "{key} is listed as unset (`#{key} =`) but has a default");
        }
    }

    // Uncommented, the file is the defaults but for the packaged data directory.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &uncommented).unwrap();
    let loaded = Config::load(Some(file.path()), Default::default()).unwrap();
    let mut expected =
        Config { data_dir: "/var/lib/keyward".into(), traces: loaded.traces.clone(), ..Config::default() };
    if std::env::var_os("RUST_LOG").is_some() {
        expected.log.clone_from(&loaded.log); // the environment outranks the file
    }
    assert_eq!(loaded, expected, "uncommented:\n{uncommented}");
}

#[test]
fn every_artifact_carries_the_servers_version() {
    let cargo = read("Cargo.toml");
    let package = cargo.split("[package]").nth(1).unwrap();
    let version = package.lines().find_map(|line| line.strip_prefix("version = ")).unwrap().trim_matches('"');
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let npm: Value = serde_json::from_str(&read("clients/typescript/package.json")).unwrap();
    assert_eq!(npm["version"], version, "clients/typescript/package.json: run scripts/set-version {version}");
    let python = read("clients/python/pyproject.toml");
    assert!(
        python.lines().any(|line| line == format!("version = \"{version}\"")),
        "pyproject.toml: run scripts/set-version {version}"
    );
}

#[test]
fn the_systemd_unit_runs_the_packaged_binary_hardened() {
    let unit = read("packaging/keyward.service");
    let settings: Vec<(&str, &str)> = unit.lines().filter_map(|line| line.split_once('=')).collect();
    let value = |key: &str| settings.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    assert_eq!(value("ExecStart"), Some("/usr/bin/keyward serve --config /etc/keyward/keyward.toml"));
    assert_eq!(value("User"), Some("keyward"));
    for (key, expected) in [
        ("StateDirectory", "keyward"),
        ("StateDirectoryMode", "0700"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/keyward"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("PrivateTmp", "yes"),
        ("UMask", "0077"),
    ] {
        assert_eq!(value(key), Some(expected), "{key}");
    }
    // The unit's data directory is the packaged configuration's.
    assert!(read("packaging/keyward.toml").contains("\ndata_dir = \"/var/lib/keyward\"\n"));
}

/// The Dockerfile's instructions, continuation lines joined: (stage index, instruction, rest).
fn instructions(dockerfile: &str) -> Vec<(usize, String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            joined.push(std::mem::take(&mut current));
        }
    }
    let mut stage = 0;
    let mut out = Vec::new();
    for instruction in joined {
        let (name, rest) = instruction.trim().split_once(' ').unwrap();
        let name = name.to_uppercase();
        if name == "FROM" {
            stage += 1;
        }
        out.push((stage, name, rest.trim().to_owned()));
    }
    out
}

#[test]
fn the_container_recipe_is_multi_stage_non_root_and_shell_free() {
    let dockerfile = read("Dockerfile");
    let instructions = instructions(&dockerfile);
    let last = instructions.iter().map(|(stage, ..)| *stage).max().unwrap();
    assert!(last >= 2, "multi-stage");
    let find = |name: &str| {
        instructions
            .iter()
            .filter(|(stage, n, _)| *stage == last && n == name)
            .map(|(_, _, rest)| rest.as_str())
            .collect::<Vec<_>>()
    };
    let base = find("FROM")[0];
    assert!(base.starts_with("gcr.io/distroless/cc-debian12"), "a base without a shell: {base}");
    assert!(find("RUN").is_empty(), "no RUN in the final stage: it has no shell");
    let user = *find("USER").last().expect("USER in the final stage");
    assert!(!user.starts_with("root") && !user.starts_with("0"), "non-root: {user}");
    assert_eq!(find("VOLUME"), vec![r#"["/var/lib/keyward"]"#], "the packaged data_dir is a volume");
    let healthcheck = find("HEALTHCHECK")[0];
    assert!(
        healthcheck.contains(r#"CMD ["/usr/bin/keyward", "healthcheck""#),
        "exec form, the binary itself: {healthcheck}"
    );
    assert!(find("ENTRYPOINT")[0].starts_with(r#"["/usr/bin/keyward"]"#));
    assert!(find("CMD").iter().any(|cmd| cmd.contains(r#""serve", "--config", "/etc/keyward/keyward.toml""#)));
    let build: Vec<&str> =
        instructions.iter().filter(|(stage, n, _)| *stage < last && n == "RUN").map(|(_, _, r)| r.as_str()).collect();
    assert!(build.iter().any(|run| run.contains("cargo build --locked --release --bin keyward")), "{build:?}");
    assert!(build.iter().any(|run| run.contains("packaging/keyward.toml")), "the packaged configuration: {build:?}");
    // The build stage's Rust is at least the workspace's rust-version.
    let rust = dockerfile.lines().find_map(|line| line.strip_prefix("ARG RUST_VERSION=")).unwrap();
    let wanted = read("Cargo.toml")
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let as_numbers = |v: &str| v.split('.').map(|part| part.parse::<u32>().unwrap()).collect::<Vec<_>>();
    assert!(as_numbers(rust) >= as_numbers(&wanted), "RUST_VERSION {rust} < rust-version {wanted}");
    let ignored = read(".dockerignore");
    for path in ["target", ".git", "**/node_modules"] {
        assert!(ignored.lines().any(|line| line == path), ".dockerignore: {path}");
    }
}

#[test]
fn compose_runs_the_image_on_postgres_with_secrets_from_the_environment() {
    let compose = read("compose.yaml");
    for expected in [
        "image: postgres:",
        "condition: service_healthy",
        "build: .",
        "KEYWARD_DATABASE_URL: postgres://keyward:${POSTGRES_PASSWORD:?",
        "KEYWARD_MASTER_KEY: ${KEYWARD_MASTER_KEY:?",
        "- keyward-data:/var/lib/keyward",
        "- \"127.0.0.1:50051:50051\"",
    ] {
        assert!(compose.contains(expected), "compose.yaml: {expected}");
    }
}
