//! Message search over HTTP, on both stores: what a member finds, what they never find, the
//! snippet, paging by cursor, and bad input.

use chat_core::app::Limits;
use chat_core::domain::rate_limit::Quota;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::support::{Store, TestServer, User};

on_every_store!(
    members_find_their_conversations_messages_marks_ignored,
    recalled_deleted_and_blocked_messages_are_never_found,
    pages_follow_the_cursor_to_the_end,
    bad_queries_are_refused_with_their_codes,
);

/// `/api/v1/search/messages` with these query parameters, encoded.
fn search_path(params: &[(&str, &str)]) -> String {
    let url = Url::parse_with_params("http://server/api/v1/search/messages", params).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

async fn search(server: &TestServer, user: &User, params: &[(&str, &str)]) -> Value {
    let (status, body) = server.get(&search_path(params), user).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The bodies found, in the order given.
async fn found(server: &TestServer, user: &User, query: &str) -> Vec<String> {
    let body = search(server, user, &[("q", query)]).await;
    body["results"].as_array().unwrap().iter().map(|r| r["message"]["body"].as_str().unwrap().to_owned()).collect()
}

async fn group(server: &TestServer, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, group) = server
        .post("/api/v1/conversations", Some(owner), json!({"kind": "group", "title": "Nhóm", "member_ids": ids}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group["conversation"]["id"].as_str().unwrap().to_owned()
}

async fn sent_id(server: &TestServer, user: &User, conversation: &str, body: &str) -> String {
    let (status, sent) = server.send_text(user, conversation, body).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["message"]["id"].as_str().unwrap().to_owned()
}

async fn members_find_their_conversations_messages_marks_ignored(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vo").await);
    for friend in [&binh, &chi] {
        server.befriend(&an, friend).await;
    }
    let team = group(&server, &an, &[&binh]).await;
    sent_id(&server, &an, &team, "Họp lúc 3 giờ chiều với anh Nguyễn Đức").await;
    let direct = server.direct(&an, &chi).await;
    sent_id(&server, &an, &direct, "Nguyễn Đức là ai?").await;

    // Binh finds the group's message, not the direct one between An and Chi.
    let body = search(&server, &binh, &[("q", "nguyen duc")]).await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{body}");
    assert_eq!(results[0]["conversation_id"], team.as_str());
    assert_eq!(results[0]["snippet"], "Họp lúc 3 giờ chiều với anh <mark>Nguyễn</mark> <mark>Đức</mark>");
    assert!(results[0]["rank"].as_i64().unwrap() > 0);
    assert_eq!(body["next_cursor"], Value::Null);
    // Typed with marks, or as a prefix while typing.
    assert_eq!(found(&server, &binh, "HỌP chiều").await, ["Họp lúc 3 giờ chiều với anh Nguyễn Đức"]);
    assert_eq!(found(&server, &binh, "hop chi").await, ["Họp lúc 3 giờ chiều với anh Nguyễn Đức"]);
    // An finds both, and can narrow to one conversation.
    assert_eq!(found(&server, &an, "đức").await.len(), 2);
    let only_direct = search(&server, &an, &[("q", "duc"), ("conversation_id", &direct)]).await;
    assert_eq!(only_direct["results"][0]["message"]["body"], "Nguyễn Đức là ai?");
    // A conversation that is not the caller's looks like one that does not exist.
    let (status, refused) = server.get(&search_path(&[("q", "duc"), ("conversation_id", &direct)]), &binh).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("conversation_not_found")));

    // Chi joins the group late: members read the group's whole history, so they find it too.
    let (status, _) =
        server.post(&format!("/api/v1/conversations/{team}/members"), Some(&an), json!({"user_ids": [chi.id]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found(&server, &chi, "hop chieu").await, ["Họp lúc 3 giờ chiều với anh Nguyễn Đức"]);
    // Binh leaves: the group is no longer his to search.
    let (status, _) = server
        .request(Method::DELETE, &format!("/api/v1/conversations/{team}/members/{}", binh.id), Some(&binh), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(found(&server, &binh, "nguyen duc").await.is_empty());
}

async fn recalled_deleted_and_blocked_messages_are_never_found(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vo").await);
    for friend in [&binh, &chi] {
        server.befriend(&an, friend).await;
    }
    let team = group(&server, &an, &[&binh, &chi]).await;
    let recalled = sent_id(&server, &an, &team, "bún chả thu hồi").await;
    let deleted = sent_id(&server, &an, &team, "bún chả xoá cho tôi").await;
    sent_id(&server, &chi, &team, "bún chả của Chi").await;
    sent_id(&server, &an, &team, "bún chả Hà Nội").await;

    let (status, _) =
        server.request(Method::DELETE, &format!("/api/v1/messages/{recalled}?for=everyone"), Some(&an), None).await;
    assert!(status.is_success(), "{status}");
    let (status, _) =
        server.request(Method::DELETE, &format!("/api/v1/messages/{deleted}?for=me"), Some(&binh), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut for_binh = found(&server, &binh, "bun cha").await;
    for_binh.sort();
    assert_eq!(for_binh, ["bún chả Hà Nội", "bún chả của Chi"]);
    assert_eq!(found(&server, &an, "bun cha").await.len(), 3, "deleted for Binh only");

    // Binh blocks Chi: in their shared group, each one's messages are hidden from the other's
    // search, both ways.
    sent_id(&server, &binh, &team, "bún chả của Bình").await;
    let (status, _) = server.request(Method::PUT, &format!("/api/v1/blocks/{}", chi.id), Some(&binh), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(found(&server, &binh, "bun cha").await, ["bún chả của Bình", "bún chả Hà Nội"]);
    let for_chi = found(&server, &chi, "bun cha").await;
    assert_eq!(for_chi, ["bún chả Hà Nội", "bún chả của Chi", "bún chả xoá cho tôi"]);
}

async fn pages_follow_the_cursor_to_the_end(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let direct = server.direct(&an, &binh).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(sent_id(&server, &an, &direct, &format!("cà phê sữa đá {i}")).await);
    }
    let mut seen = Vec::new();
    let mut params = vec![("q".to_owned(), "ca phe".to_owned()), ("limit".to_owned(), "2".to_owned())];
    let mut pages = 0;
    loop {
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = search(&server, &binh, &borrowed).await;
        pages += 1;
        seen.extend(
            page["results"].as_array().unwrap().iter().map(|r| r["message"]["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                params.retain(|(k, _)| k != "cursor");
                params.push(("cursor".to_owned(), cursor.to_owned()));
            }
            None => break,
        }
        assert!(pages <= 3, "5 results in pages of 2 end on the third");
    }
    assert_eq!(pages, 3);
    // Same relevance and age: newest first.
    sent.reverse();
    assert_eq!(seen, sent);
}

async fn bad_queries_are_refused_with_their_codes(store: Store) {
    let limits = Limits { searches: Quota::per_minute(8), ..Limits::default() };
    let server = TestServer::start_with(store, limits, Default::default()).await;
    let an = server.register("an.le").await;
    for (params, code) in [
        (vec![("q", "   ")], "invalid_query"),
        (vec![("q", "&|!")], "invalid_query"),
        (vec![("q", &"a".repeat(101) as &str)], "query_too_long"),
        (vec![("q", "a\u{0}b")], "invalid_characters"),
        (vec![("q", "abc"), ("limit", "0")], "invalid_limit"),
        (vec![("q", "abc"), ("limit", "51")], "invalid_limit"),
        (vec![("q", "abc"), ("cursor", "x")], "invalid_cursor"),
        (vec![("q", "abc"), ("before", "2026-01-01T00:00:00Z"), ("after", "2026-02-01T00:00:00Z")], "invalid_range"),
    ] {
        let (status, body) = server.get(&search_path(&params), &an).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{params:?}");
    }
    // A search of someone with no conversations is an empty page; the budget is 8 a minute.
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(server.get(&search_path(&[("q", "xin chào")]), &an).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 8);
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
}
