//! The real `chatctl` binary against a throwaway Postgres database.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use chat_postgres::testing::TestDatabase;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Runs `chatctl` on a blocking thread (it is a child process) with `stdin` as its standard
/// input, and the password variable cleared so only the arguments given count.
async fn chatctl(url: &str, args: &[&str], stdin: &str) -> Output {
    let (url, stdin) = (url.to_owned(), stdin.to_owned());
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chatctl"))
            .env("DATABASE_URL", url)
            .env_remove("CHAT_ADMIN_PASSWORD")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap().n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_create_admin_and_seed_demo() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();

    let migrate = chatctl(&url, &["migrate"], "").await;
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert_eq!(stdout(&migrate).trim(), "schema up to date");

    let admin_args =
        ["create-admin", "--username", "quan.tri", "--display-name", "Quản trị", "--password", "mật khẩu quản trị"];
    let created = chatctl(&url, &admin_args, "").await;
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("admin quan.tri created"), "{}", stdout(&created));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM users WHERE username = 'quan.tri' AND role = 'admin'").await, 1);
    assert_eq!(
        count(&url, "SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL").await,
        0,
        "the session registration opened is closed"
    );
    let again = chatctl(&url, &admin_args, "").await;
    assert!(!again.status.success());
    assert!(stderr(&again).contains("\"quan.tri\" is taken"), "{}", stderr(&again));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM users").await, 1);

    // Without --password the password is one line of standard input; the use case's rules
    // apply to it like to any other.
    let from_stdin = ["create-admin", "--username", "quan.tri.2", "--display-name", "Quản trị 2"];
    let short = chatctl(&url, &from_stdin, "ngan\n").await;
    assert!(!short.status.success(), "a too-short password is refused");
    assert!(stderr(&short).contains("8 to 128 characters"), "{}", stderr(&short));
    let typed = chatctl(&url, &from_stdin, "một mật khẩu đủ dài\n").await;
    assert!(typed.status.success(), "{}", stderr(&typed));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM users WHERE role = 'admin'").await, 2);

    let seeded = chatctl(&url, &["seed-demo", "--users", "4", "--messages", "50"], "").await;
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    assert!(
        stdout(&seeded).contains("4 users, 3 direct and 1 group conversations, 50 messages"),
        "{}",
        stdout(&seeded)
    );
    assert!(stdout(&seeded).contains("demo login: username demo0."), "{}", stdout(&seeded));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM messages WHERE kind = 'TEXT'").await, 50);
    assert_eq!(count(&url, "SELECT count(*) AS n FROM friendships").await, 6, "three friendships, both sides");
    // Every sender takes turns: in each direct conversation both people speak.
    assert_eq!(
        count(&url, "SELECT count(DISTINCT (conversation_id, sender_id)) AS n FROM messages WHERE kind = 'TEXT'").await,
        3 * 2 + 4
    );
    // Seeds are gap-free per conversation, like every send.
    assert_eq!(
        count(&url, "SELECT count(*) AS n FROM conversations c WHERE c.last_seq <> (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)")
            .await,
        0
    );

    // Seeding again adds a second, separate world instead of failing.
    let twice = chatctl(&url, &["seed-demo", "--users", "2", "--messages", "10"], "").await;
    assert!(twice.status.success(), "{}", stderr(&twice));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM messages WHERE kind = 'TEXT'").await, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_schema_is_refused_until_migrated() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    database.store(1).await.revert_all().await.unwrap();

    for args in [
        &["create-admin", "--username", "quan.tri", "--display-name", "Quản trị", "--password", "mật khẩu quản trị"][..],
        &["seed-demo", "--users", "2", "--messages", "1"][..],
    ] {
        let refused = chatctl(&url, args, "").await;
        assert!(!refused.status.success(), "{args:?} on an empty schema");
        assert!(stderr(&refused).contains("schema is behind"), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("chatctl migrate"), "{}", stderr(&refused));
    }

    let migrate = chatctl(&url, &["migrate"], "").await;
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let applied: Vec<_> = stdout(&migrate).lines().map(str::to_owned).collect();
    assert!(!applied.is_empty() && applied.iter().all(|line| line.starts_with("applied ")), "{applied:?}");
    assert_eq!(stdout(&chatctl(&url, &["migrate"], "").await).trim(), "schema up to date");

    let seeded = chatctl(&url, &["seed-demo", "--users", "2", "--messages", "1"], "").await;
    assert!(seeded.status.success(), "{}", stderr(&seeded));
}
