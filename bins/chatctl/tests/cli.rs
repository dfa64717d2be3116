//! The real `chatctl` binary against a throwaway Postgres database.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use chat_postgres::testing::TestDatabase;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

fn chatctl(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chatctl")).env("DATABASE_URL", url).args(args).output().unwrap()
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
    let Some(database) = TestDatabase::create().await else { return };
    let url = database.url.clone();

    let migrate = tokio::task::spawn_blocking({
        let url = url.clone();
        move || chatctl(&url, &["migrate"])
    })
    .await
    .unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert_eq!(String::from_utf8_lossy(&migrate.stdout).trim(), "schema up to date");

    let admin_args =
        ["create-admin", "--username", "quan.tri", "--display-name", "Quản trị", "--password", "mật khẩu quản trị"];
    let created = tokio::task::spawn_blocking({
        let url = url.clone();
        move || chatctl(&url, &admin_args)
    })
    .await
    .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM users WHERE username = 'quan.tri' AND role = 'admin'").await, 1);
    let again = tokio::task::spawn_blocking({
        let url = url.clone();
        move || chatctl(&url, &admin_args)
    })
    .await
    .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("taken"), "{}", String::from_utf8_lossy(&again.stderr));

    let seeded = tokio::task::spawn_blocking({
        let url = url.clone();
        move || chatctl(&url, &["seed-demo", "--users", "4", "--messages", "50"])
    })
    .await
    .unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    assert_eq!(count(&url, "SELECT count(*) AS n FROM messages WHERE kind = 'TEXT'").await, 50);
    assert_eq!(count(&url, "SELECT count(*) AS n FROM friendships").await, 6, "three friendships, both sides");
}
