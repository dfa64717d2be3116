#![allow(clippy::unwrap_used)]

use chrono::TimeZone as _;
use uuid::Uuid;

use super::*;

fn user() -> UserId {
    UserId(Uuid::parse_str("0190a6f2-7c1e-7b3a-9f00-5a1b2c3d4e5f").unwrap())
}

fn at(unix_secs: i64) -> Timestamp {
    chrono::Utc.timestamp_opt(unix_secs, 0).unwrap()
}

fn relay(urls: &[&str]) -> TurnRelay {
    TurnRelay {
        urls: urls.iter().map(|url| (*url).to_owned()).collect(),
        secret: TurnSecret::new("coturn-shared-secret").unwrap(),
    }
}

#[test]
fn the_credential_is_the_turn_rest_scheme_coturn_checks() {
    // Pinned from the shell:
    // printf '%s' "1700003600:0190a6f2-7c1e-7b3a-9f00-5a1b2c3d4e5f" \
    //     | openssl dgst -sha1 -hmac "coturn-shared-secret" -binary | base64
    let credential = turn_credential(&TurnSecret::new("coturn-shared-secret").unwrap(), user(), at(1_700_003_600));
    assert_eq!(credential.username, "1700003600:0190a6f2-7c1e-7b3a-9f00-5a1b2c3d4e5f");
    assert_eq!(credential.credential, "phJmQcgZrQnet27Jr1aQcYeDdps=");
}

#[test]
fn the_expiry_is_now_plus_the_ttl_in_whole_seconds() {
    let settings =
        IceSettings { relay: Some(relay(&["turn:turn.example.vn:3478?transport=udp"])), ..IceSettings::default() };
    let now = at(1_700_000_000) + Duration::milliseconds(999);
    let servers = ice_servers(&settings, user(), now);
    assert_eq!(servers.ttl_secs, 3600);
    let username = servers.ice_servers[0].username.clone().unwrap();
    assert_eq!(username, "1700003600:0190a6f2-7c1e-7b3a-9f00-5a1b2c3d4e5f");
    assert_eq!(servers.ice_servers[0].credential.as_deref(), Some("phJmQcgZrQnet27Jr1aQcYeDdps="));
}

#[test]
fn stun_comes_first_without_credentials_and_turn_after_with_them() {
    let settings = IceSettings {
        stun_urls: vec!["stun:stun.example.vn:3478".into()],
        relay: Some(relay(&["turn:turn.example.vn:3478?transport=udp", "turns:turn.example.vn:5349?transport=tcp"])),
        credential_ttl: Duration::seconds(600),
    };
    let servers = ice_servers(&settings, user(), at(1_700_000_000));
    assert_eq!(servers.ttl_secs, 600);
    assert_eq!(
        servers.ice_servers[0],
        IceServer { urls: vec!["stun:stun.example.vn:3478".into()], username: None, credential: None }
    );
    let turn = &servers.ice_servers[1];
    assert_eq!(turn.urls, ["turn:turn.example.vn:3478?transport=udp", "turns:turn.example.vn:5349?transport=tcp"]);
    assert_eq!(turn.username.as_deref(), Some("1700000600:0190a6f2-7c1e-7b3a-9f00-5a1b2c3d4e5f"));
    assert!(turn.credential.is_some());
    assert_eq!(servers.ice_servers.len(), 2);
}

#[test]
fn nothing_configured_answers_an_empty_list() {
    let servers = ice_servers(&IceSettings::default(), user(), at(1_700_000_000));
    assert_eq!(servers, IceServers { ice_servers: Vec::new(), ttl_secs: 3600 });
}

#[test]
fn another_user_or_expiry_or_secret_gives_another_credential() {
    let secret = TurnSecret::new("coturn-shared-secret").unwrap();
    let base = turn_credential(&secret, user(), at(1_700_003_600));
    let other_user = turn_credential(&secret, UserId(Uuid::nil()), at(1_700_003_600));
    let other_expiry = turn_credential(&secret, user(), at(1_700_003_601));
    let other_secret = turn_credential(&TurnSecret::new("another-secret").unwrap(), user(), at(1_700_003_600));
    for other in [other_user, other_expiry, other_secret] {
        assert_ne!(other.credential, base.credential);
    }
}

#[test]
fn the_secret_stays_out_of_debug_output() {
    let settings = IceSettings { relay: Some(relay(&["turn:turn.example.vn"])), ..IceSettings::default() };
    let printed = format!("{settings:?}");
    assert!(printed.contains("turn:turn.example.vn"));
    assert!(!printed.contains("coturn-shared-secret"), "{printed}");
    assert!(TurnSecret::new("").is_err());
}

#[test]
fn ice_urls_are_checked_by_kind() {
    for url in [
        "turn:turn.example.vn",
        "turn:turn.example.vn:3478",
        "turn:203.0.113.7:3478?transport=udp",
        "turns:turn.example.vn:5349?transport=tcp",
        "turn:[2001:db8::1]:3478?transport=tcp",
        "turn:[2001:db8::1]",
    ] {
        assert_eq!(check_ice_url(url, IceUrlKind::Turn), Ok(()), "{url}");
    }
    for url in [
        "stun:turn.example.vn",
        "turn:",
        "turn:host:0",
        "turn:host:70000",
        "turn:host:port",
        "turn:host?transport=sctp",
        "turn:user@host",
        "turn:host:3478,turn:other",
        "turn://host:3478",
        "https://turn.example.vn",
        " turn:host",
    ] {
        assert!(check_ice_url(url, IceUrlKind::Turn).is_err(), "{url} was accepted as TURN");
    }
    assert_eq!(check_ice_url("stun:stun.example.vn:3478", IceUrlKind::Stun), Ok(()));
    assert_eq!(check_ice_url("stuns:stun.example.vn", IceUrlKind::Stun), Ok(()));
    assert!(check_ice_url("stun:host?transport=udp", IceUrlKind::Stun).is_err());
    assert!(check_ice_url("turn:host", IceUrlKind::Stun).is_err());
    let error = check_ice_url("http://x", IceUrlKind::Turn).unwrap_err();
    assert_eq!(error.code, "invalid_ice_url");
    assert!(error.message.contains("http://x"), "{}", error.message);
}

#[test]
fn plain_turn_hosts_double_as_stun_once_each() {
    let turn_urls: Vec<String> = [
        "turn:turn.example.vn:3478?transport=udp",
        "turn:turn.example.vn:3478?transport=tcp",
        "turns:turn.example.vn:5349?transport=tcp",
        "turn:[2001:db8::1]",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(stun_urls_from_turn(&turn_urls), ["stun:turn.example.vn:3478", "stun:[2001:db8::1]"]);
    assert!(stun_urls_from_turn(&[]).is_empty());
}
