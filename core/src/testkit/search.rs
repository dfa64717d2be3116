//! The message search contract (`MessageRepo::search_messages`), run on every store
//! (`message_search_contract_tests!`): the rules of `domain::search` (folding both ways, `đ`,
//! prefix, substring, ranking, paging) and what is never found (outside the scopes, SYSTEM,
//! recalled, deleted for the viewer, excluded senders).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use chrono::Duration;

use crate::domain::Timestamp;
use crate::domain::ids::{ConversationId, MessageId, UserId};
use crate::domain::message::{Message, MessageKind, NewMessage};
use crate::domain::search::{MatchTier, SearchPosition, SearchText, score, search_words};
use crate::ports::{InsertOutcome, MessageSearch, MessageUpdate, SearchHit, SearchScope};

use super::contract::{Store, group, new_id, now, text, user};

/// Stores a message of `kind` with this body, sent at `at`.
async fn say(
    store: &dyn Store,
    conversation: ConversationId,
    sender: UserId,
    kind: MessageKind,
    body: &str,
    at: Timestamp,
) -> Message {
    let message = NewMessage { kind, body: Some(body.to_owned()), created_at: at, ..text(conversation, sender, None) };
    match store.insert_message(message).await.unwrap() {
        InsertOutcome::Inserted { message, .. } => message,
        InsertOutcome::Existing(_) => panic!("a message without client id is always new"),
    }
}

/// A search of `viewer` for `query` in whole conversations, ranked at `as_of`, 100 results.
fn search(viewer: UserId, query: &str, conversations: &[ConversationId], as_of: Timestamp) -> MessageSearch {
    let scopes = conversations.iter().map(|c| SearchScope { conversation: *c, after_seq: 0 }).collect();
    MessageSearch::unfiltered(viewer, SearchText::parse(query).unwrap(), scopes, as_of, 100)
}

async fn bodies(store: &dyn Store, search: &MessageSearch) -> Vec<String> {
    let hits = store.search_messages(search).await.unwrap();
    hits.into_iter().map(|hit| hit.message.body.unwrap_or_default()).collect()
}

/// Sorted, for checks where the order is not the point.
async fn found(store: &dyn Store, search: &MessageSearch) -> Vec<String> {
    let mut found = bodies(store, search).await;
    found.sort();
    found
}

/// Case and Vietnamese marks are ignored whichever side has them; `đ` is `d`; and short
/// Vietnamese words (là, và, có) are words like any other, not stop words.
pub async fn marks_and_case_are_ignored_both_ways(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    for body in ["Chào anh Nguyễn Văn Đức", "khong co gi dau", "Đà Nẵng mùa hè", "ĐẶNG THỊ ÁNH", "và là có"]
    {
        say(store, id, a, MessageKind::Text, body, at).await;
    }
    let find = |query: &str| search(b, query, &[id], at);
    assert_eq!(found(store, &find("nguyen duc")).await, ["Chào anh Nguyễn Văn Đức"]);
    assert_eq!(found(store, &find("NGUYỄN đức")).await, ["Chào anh Nguyễn Văn Đức"]);
    assert_eq!(found(store, &find("không có gì")).await, ["khong co gi dau"], "marks typed, none stored");
    assert_eq!(found(store, &find("da nang")).await, ["Đà Nẵng mùa hè"]);
    assert_eq!(found(store, &find("đặng ánh")).await, ["ĐẶNG THỊ ÁNH"]);
    assert_eq!(found(store, &find("va la co")).await, ["và là có"], "no Vietnamese stop words");
    assert!(found(store, &find("tạm biệt")).await.is_empty());
}

/// The last word also matches the start of a word (search as you type), below a whole-word
/// match of the same moment; earlier words must be whole.
pub async fn the_last_word_matches_as_a_prefix_below_whole_words(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    say(store, id, a, MessageKind::Text, "họp chiều nay", at).await;
    say(store, id, a, MessageKind::Text, "chi đi họp", at).await;
    assert_eq!(bodies(store, &search(b, "hop chi", &[id], at)).await, ["chi đi họp", "họp chiều nay"]);
    assert_eq!(found(store, &search(b, "hop chieu", &[id], at)).await, ["họp chiều nay"]);
    assert!(found(store, &search(b, "ho chieu", &[id], at)).await.is_empty(), "only the last word is a prefix");
    let hits = store.search_messages(&search(b, "hop chi", &[id], at)).await.unwrap();
    let scores: Vec<i64> = hits.iter().map(|hit| hit.score).collect();
    assert_eq!(scores, [score(MatchTier::Exact, at, at), score(MatchTier::Prefix, at, at)]);
}

/// A query of 3 characters or more is also found inside words (order codes, names run
/// together), below word matches; shorter ones are not.
pub async fn a_long_enough_query_is_found_inside_words(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    say(store, id, a, MessageKind::Text, "Mã đơn DH123456 đã giao", at).await;
    say(store, id, a, MessageKind::Text, "gọi anhtuấn nhé", at).await;
    assert_eq!(found(store, &search(b, "123456", &[id], at)).await, ["Mã đơn DH123456 đã giao"]);
    assert_eq!(found(store, &search(b, "3456", &[id], at)).await, ["Mã đơn DH123456 đã giao"]);
    assert_eq!(found(store, &search(b, "tuan", &[id], at)).await, ["gọi anhtuấn nhé"]);
    assert!(
        found(store, &search(b, "56", &[id], at)).await.is_empty(),
        "two characters are not looked for inside words"
    );
    let hits = store.search_messages(&search(b, "3456", &[id], at)).await.unwrap();
    assert_eq!(hits[0].score, score(MatchTier::Substring, at, at));
}

/// Only the scopes are searched, each above its `after_seq`.
pub async fn only_the_scopes_are_searched_from_their_seq(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let (first, second) = (group(store, &[a, b]).await, group(store, &[a, b]).await);
    let at = now();
    let early = say(store, first, a, MessageKind::Text, "bánh mì sáng", at).await;
    say(store, first, a, MessageKind::Text, "bánh mì chiều", at).await;
    say(store, second, a, MessageKind::Text, "bánh mì tối", at).await;
    assert_eq!(found(store, &search(b, "banh mi", &[first], at)).await, ["bánh mì chiều", "bánh mì sáng"]);
    let mut windowed = search(b, "banh mi", &[first, second], at);
    windowed.scopes[0].after_seq = early.seq;
    assert_eq!(found(store, &windowed).await, ["bánh mì chiều", "bánh mì tối"]);
    assert!(found(store, &search(b, "banh mi", &[], at)).await.is_empty(), "no scope, nothing");
}

/// Recalled messages, SYSTEM messages, messages the viewer deleted for themselves and those
/// of excluded senders are never found; another viewer still finds what one deleted.
pub async fn recalled_system_hidden_and_excluded_are_never_found(store: &dyn Store) {
    let (a, b, c) = (user(store, "a").await, user(store, "b").await, user(store, "c").await);
    let id = group(store, &[a, b, c]).await;
    let at = now();
    let recalled = say(store, id, a, MessageKind::Text, "phở bò thu hồi", at).await;
    store.update_message(recalled.id, MessageUpdate::Recall { at }).await.unwrap();
    let deleted = say(store, id, a, MessageKind::Text, "phở gà xoá", at).await;
    store.hide_message(deleted.id, b).await.unwrap();
    say(store, id, c, MessageKind::Text, "phở của người bị chặn", at).await;
    say(store, id, a, MessageKind::Text, "phở cuốn", at).await;
    let mut as_b = search(b, "pho", &[id], at);
    as_b.excluded_senders = vec![c];
    assert_eq!(found(store, &as_b).await, ["phở cuốn"]);
    assert_eq!(found(store, &search(a, "pho", &[id], at)).await, ["phở cuốn", "phở của người bị chặn", "phở gà xoá"]);
    // The group's announcement is a SYSTEM message titled "Nhóm".
    assert!(found(store, &search(b, "nhom", &[id], at)).await.is_empty());
}

/// Captions of media messages are searched; the filters (kind, sender, time) narrow.
pub async fn captions_are_searched_and_filters_narrow(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    let hour_ago = at - Duration::hours(1);
    say(store, id, a, MessageKind::Image, "ảnh sinh nhật", hour_ago).await;
    say(store, id, b, MessageKind::Text, "chúc mừng sinh nhật", at).await;
    say(store, id, a, MessageKind::File, "sinh nhật.pdf", at).await;
    let all = search(b, "sinh nhat", &[id], at);
    assert_eq!(found(store, &all).await, ["chúc mừng sinh nhật", "sinh nhật.pdf", "ảnh sinh nhật"]);
    let images = MessageSearch { kind: Some(MessageKind::Image), ..all.clone() };
    assert_eq!(found(store, &images).await, ["ảnh sinh nhật"]);
    let from_b = MessageSearch { sender: Some(b), ..all.clone() };
    assert_eq!(found(store, &from_b).await, ["chúc mừng sinh nhật"]);
    let older = MessageSearch { sent_before: Some(at), ..all.clone() };
    assert_eq!(found(store, &older).await, ["ảnh sinh nhật"]);
    let newer = MessageSearch { sent_after: Some(hour_ago), ..all.clone() };
    assert_eq!(found(store, &newer).await, ["chúc mừng sinh nhật", "sinh nhật.pdf"]);
}

/// Results come best score first, ties by higher id, each with the score
/// `domain::search::score` gives it: relevance and recency together.
pub async fn results_rank_by_score_then_id(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    let bodies_and_ages = [
        ("trà sữa", 0),
        ("trà sữa trân châu", 0),
        ("uống trà", 2),
        ("chètrà sữa", 1),
        ("trà đá", 40),
        ("trà sữa nhé", 90),
        ("trà sữa", 3),
        ("trà suachua", 0),
    ];
    for (body, days) in bodies_and_ages {
        say(store, id, a, MessageKind::Text, body, at - Duration::days(days)).await;
    }
    let query = SearchText::parse("tra sua").unwrap();
    let hits: Vec<SearchHit> = store.search_messages(&search(b, "tra sua", &[id], at)).await.unwrap();
    for hit in &hits {
        let tier = query.match_tier(&search_words(hit.message.body.as_deref().unwrap())).unwrap();
        assert_eq!(hit.score, score(tier, hit.message.created_at, at), "{:?}", hit.message.body);
    }
    let mut expected = hits.clone();
    expected.sort_by_key(|hit| std::cmp::Reverse((hit.score, hit.message.id.0)));
    assert_eq!(hits, expected, "best score first, ties by higher id");
    let order: Vec<&str> = hits.iter().map(|hit| hit.message.body.as_deref().unwrap()).collect();
    // Whole words today; whole words 3 days old; a prefix today; inside a word yesterday;
    // whole words 90 days old.
    assert_eq!(order, ["trà sữa trân châu", "trà sữa", "trà sữa", "trà suachua", "chètrà sữa", "trà sữa nhé"]);
}

/// Paging by the last result's position returns every result once, in order, also when many
/// share a score.
pub async fn pages_neither_repeat_nor_skip(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    for i in 0..31 {
        // Groups of equal scores: four messages share each second.
        say(store, id, a, MessageKind::Text, &format!("cà phê số {i}"), at - Duration::seconds(i / 4)).await;
    }
    let everything: Vec<MessageId> =
        store.search_messages(&search(b, "ca phe", &[id], at)).await.unwrap().iter().map(|h| h.message.id).collect();
    assert_eq!(everything.len(), 31);
    let mut paged = Vec::new();
    let mut page = MessageSearch { limit: 7, ..search(b, "ca phe", &[id], at) };
    loop {
        let hits = store.search_messages(&page).await.unwrap();
        let Some(last) = hits.last() else { break };
        page.after = Some(SearchPosition { score: last.score, id: last.message.id });
        paged.extend(hits.iter().map(|h| h.message.id));
        assert!(paged.len() <= 31, "paging must end");
    }
    assert_eq!(paged, everything);
    assert_eq!(paged.iter().collect::<HashSet<_>>().len(), 31);
}

/// What would be syntax to a query language or a LIKE pattern is plain text.
pub async fn operators_and_wildcards_are_plain_text(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let at = now();
    for body in ["giảm 50% off_sale", "it's a&b|c!", "đường\\dẫn (x:*)", "100_000đ"] {
        say(store, id, a, MessageKind::Text, body, at).await;
    }
    for (query, expected) in [
        ("50%", vec!["giảm 50% off_sale"]),
        ("off_sale", vec!["giảm 50% off_sale"]),
        ("it's", vec!["it's a&b|c!"]),
        ("a & b | !c", vec!["it's a&b|c!"]),
        ("dẫn (x:*)", vec!["đường\\dẫn (x:*)"]),
        ("000đ", vec!["100_000đ"]),
    ] {
        assert_eq!(found(store, &search(b, query, &[id], at)).await, expected, "{query}");
    }
    let id_text = new_id().to_string();
    assert!(found(store, &search(b, &id_text, &[id], at)).await.is_empty());
}
