//! `chatctl seed-search` against throwaway Postgres databases: the world it writes is
//! consistent (seqs, conversation heads, folded text, the benchmark user's share), the same
//! seed writes the same world, and a second run into the same database is refused.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use chat_postgres::testing::TestDatabase;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

const SECRET: &str = "a seed-search test secret of 32 bytes or more";

async fn seed(url: &str, out: &std::path::Path, seed: &str) -> Output {
    let (url, out, seed) = (url.to_owned(), out.to_owned(), seed.to_owned());
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let args = [
            "seed-search",
            "--messages",
            "3000",
            "--users",
            "400",
            "--conversations",
            "200",
            "--bench-conversations",
            "10",
            "--bench-share",
            "0.2",
            "--senders",
            "5",
            "--sample-bodies",
            "7",
            "--seed",
            &seed,
            "--newest",
            "2026-12-01T08:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ];
        Command::new(env!("CARGO_BIN_EXE_chatctl"))
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", SECRET)
            .env("CHAT_DATA_DIR", data_dir)
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Digest {
    #[diesel(sql_type = Text)]
    digest: String,
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap().n
}

/// What the seed decides (not the registered users' ids): conversations, members by
/// username, message ids, seqs, times and text.
async fn digest(url: &str) -> String {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let sql = "SELECT md5(string_agg(m.id::text || m.seq || u.username || coalesce(m.body, '') || m.created_at
                                     || m.kind || m.search_text, ',' ORDER BY m.id)) AS digest
               FROM messages m JOIN users u ON u.id = m.sender_id";
    diesel::sql_query(sql).get_result::<Digest>(&mut conn).await.unwrap().digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_a_consistent_world_the_same_each_time() {
    let (first, second) = (TestDatabase::create().await, TestDatabase::create().await);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.json");
    let seeded = seed(&first.url, &out, "7").await;
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let stdout = String::from_utf8_lossy(&seeded.stdout).into_owned();
    assert!(stdout.contains("seeded 400 users, 140 direct and 60 group conversations, 3000 messages"), "{stdout}");
    assert!(stdout.contains("benchmark user: username bench.s7, password \"load password 123\""), "{stdout}");

    let url = &first.url;
    let groups = 60;
    assert_eq!(count(url, "SELECT count(*) AS n FROM messages WHERE kind <> 'SYSTEM'").await, 3000);
    assert_eq!(count(url, "SELECT count(*) AS n FROM messages WHERE kind = 'SYSTEM'").await, groups);
    // Seqs have no gaps, and each conversation's head is its newest message.
    let heads = "SELECT count(*) AS n FROM conversations c WHERE c.last_seq <> (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
                    OR c.last_activity_at <> (SELECT max(created_at) FROM messages m WHERE m.conversation_id = c.id)
                    OR c.last_change_seq <> (SELECT coalesce(max(change_seq), 0) FROM messages m WHERE m.conversation_id = c.id)";
    assert_eq!(count(url, heads).await, 0);
    assert_eq!(count(url, "SELECT count(*) AS n FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id WHERE m.read_seq <> c.last_seq").await, 0);
    assert_eq!(count(url, "SELECT count(*) AS n FROM messages WHERE sender_id NOT IN (SELECT user_id FROM conversation_members WHERE conversation_id = messages.conversation_id)").await, 0);
    // The folded text message search compares is there for every body, in lower case
    // without marks.
    assert_eq!(count(url, "SELECT count(*) AS n FROM messages WHERE (body IS NULL) <> (search_text = '')").await, 0);
    assert_eq!(count(url, "SELECT count(*) AS n FROM messages WHERE search_text ~ '[A-ZĐđà-ỹ]'").await, 0);
    assert!(count(url, "SELECT count(*) AS n FROM messages WHERE recalled_at IS NOT NULL AND body IS NULL").await > 0);
    assert!(
        count(url, "SELECT count(*) AS n FROM messages WHERE kind = 'IMAGE' AND cardinality(media_ids) = 1").await > 0
    );
    // The benchmark user: in exactly its conversations, holding its share.
    let bench = "(SELECT id FROM users WHERE username = 'bench.s7')";
    assert_eq!(
        count(url, &format!("SELECT count(*) AS n FROM conversation_members WHERE user_id = {bench}")).await,
        10
    );
    let share = format!(
        "SELECT count(*) AS n FROM messages WHERE kind <> 'SYSTEM' AND conversation_id IN
            (SELECT conversation_id FROM conversation_members WHERE user_id = {bench})"
    );
    assert_eq!(count(url, &share).await, 600);

    let file: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let senders = file["users"].as_array().unwrap();
    assert_eq!(senders.len(), 5);
    for sender in senders {
        assert!(sender["access_token"].as_str().unwrap().len() > 20, "{sender}");
        let group = sender["group"].as_str().unwrap();
        let sender_id = sender["user_id"].as_str().unwrap();
        let theirs = format!("SELECT count(*) AS n FROM conversation_members WHERE user_id = '{sender_id}'");
        assert_eq!(count(url, &theirs).await, 1, "each sender is in one conversation");
        let beside = format!(
            "SELECT count(*) AS n FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.id = '{group}' AND c.kind = 'group' AND m.user_id IN ({bench}, '{sender_id}')"
        );
        assert_eq!(count(url, &beside).await, 1, "a group of the sender's that the benchmark user is not in");
    }
    assert_eq!(file["search"]["username"], "bench.s7");
    assert_eq!(file["sample_bodies"].as_array().unwrap().len(), 7);
    let queries = file["search"]["queries"].as_array().unwrap();
    let shapes: Vec<&str> = queries.iter().map(|q| q["shape"].as_str().unwrap()).collect();
    for shape in ["common word", "prefix", "name", "name unmarked", "no hit"] {
        assert!(shapes.contains(&shape), "{shapes:?}");
    }
    let common = queries.iter().find(|q| q["shape"] == "common word").unwrap();
    assert!(common["expected"].as_u64().unwrap() > 20, "{common}");

    // The same seed writes the same world into another database; another seed does not.
    let again = seed(&second.url, &dir.path().join("again.json"), "7").await;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(digest(&first.url).await, digest(&second.url).await);
    let third = TestDatabase::create().await;
    let other = seed(&third.url, &dir.path().join("other.json"), "8").await;
    assert!(other.status.success(), "{}", String::from_utf8_lossy(&other.stderr));
    assert_ne!(digest(&first.url).await, digest(&third.url).await);

    // Seeding the same database with the same seed again is refused, and says why.
    let twice = seed(&first.url, &dir.path().join("twice.json"), "7").await;
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("seed a fresh database"), "{twice:?}");
}
