//! How a search finds its rows, in one read-only transaction (one snapshot for all its
//! statements) with a statement timeout.
//!
//! First the planner estimates, from the column statistics, how many messages in the whole
//! table match the query and each of its parts (one statement, nothing run). Few (a rare
//! word, a name, an order code): one statement lets the GIN indexes find them, looking up
//! whichever words cost the fewest index entries, and checks each row found against the
//! query and the scopes. Where that statement would look up the phrase's trigrams (mostly
//! common ones, the dearest part of it), the matches of whole words and prefixes come first,
//! from the word index alone; when they fill the page, the matches inside words can rank on
//! it only if sent recently enough, so only the scopes' messages since then are read for
//! them, or none at all (the trigram lookup stays for the rest). Many (a common word, a short prefix): reading all of them from an
//! index costs more than reading the scopes' own messages, and the best results are the
//! newest anyway, since the score halves with each 30 days of age. So the scopes' messages
//! are read newest first, in windows of time that grow (the last 2 days, 16, 64, 256, then
//! everything), and a window's page is the answer as soon as its last result outranks
//! anything a message sent before the window could score.

use std::convert::Infallible;

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::search::{MatchTier, score};
use chat_core::ports::{MessageSearch, SearchHit};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::statement::{Lookup, Step, Terms, estimate_statement, search_statement};
use crate::PgStore;
use crate::error::{TxStop, settle};
use crate::messages::with_reactions;
use crate::rows::MessageRow;

/// The most results one call returns, whatever it asks for (the API pages by 50 at most).
pub(crate) const MAX_RESULTS: usize = 200;

/// How long one statement of a search may run before Postgres cancels it (57014, which the
/// caller gets as `PortError::Unavailable`).
const STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '2s'";

/// Up to this many matches in the whole table (the planner's estimate), the GIN indexes are
/// the way in. A bitmap of index entries costs 0.2 to 0.7 µs an entry on the benchmark
/// machine, so this bounds that step to about 10 ms; above it the newest messages are read
/// first.
const RARE_MATCHES: i64 = 20_000;

/// Up to this many rows found by a lookup (the planner's estimate), each is checked for its
/// scope rather than intersected with a bitmap of the scopes' messages: the bitmap costs
/// 5 to 15 ms for 100 conversations of 20,000 messages on the benchmark machine, about as
/// much as reading this many rows.
const FEW_ROWS: i64 = 3_000;

/// What reading an index entry of a prefix costs, in entries of a whole word.
const PREFIX_ENTRY: i64 = 2;

/// What a trigram lookup of the phrase costs, in index entries of a whole word.
const TRIGRAM_LOOKUP: i64 = 40_000;

/// The windows of time the newest-first search reads, in days back from `as_of`, before it
/// reads everything.
const WINDOW_DAYS: [i64; 4] = [2, 16, 64, 256];

/// After a page of whole-word and prefix matches, the matches inside words that could still
/// rank on it are looked for among the scopes' messages of at most this many days (some
/// 2,000 messages, 5 to 10 ms, for 100 busy conversations on the benchmark machine); further
/// back, the trigram lookup of the phrase costs less.
const SUBSTRING_WINDOW_DAYS: i64 = 16;

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

/// Which way a search reads its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "testing"), allow(dead_code, reason = "the other ways are for tests"))]
pub enum SearchPath {
    /// As the planner's estimate says (what `MessageRepo::search_messages` does).
    ByEstimate,
    /// Through the word and trigram indexes, looking up what `lookup` says (or the whole
    /// query, when the query has no such words).
    Indexes {
        /// What the indexes look up.
        lookup: Lookup,
        /// Whether the scopes are intersected through an index or checked on each row.
        scopes_by_index: bool,
    },
    /// The scopes' newest messages first, in growing windows of time.
    NewestFirst,
}

/// A found message and its score.
#[derive(QueryableByName)]
struct HitRow {
    #[diesel(embed)]
    message: MessageRow,
    #[diesel(sql_type = BigInt)]
    score: i64,
}

#[derive(QueryableByName)]
struct Estimate {
    #[diesel(sql_type = Nullable<BigInt>)]
    estimate: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    leading: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    middle: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last: Option<i64>,
}

/// `MessageRepo::search_messages`: at most [`MAX_RESULTS`] hits, best first.
pub(crate) async fn search_messages(store: &PgStore, search: &MessageSearch) -> Result<Vec<SearchHit>, PortError> {
    search_messages_by(store, search, SearchPath::ByEstimate).await
}

/// [`search_messages`] the way `path` says; every path returns the same hits.
pub(crate) async fn search_messages_by(
    store: &PgStore,
    search: &MessageSearch,
    path: SearchPath,
) -> Result<Vec<SearchHit>, PortError> {
    let limit = search.limit.min(MAX_RESULTS);
    if limit == 0 || search.scopes.is_empty() {
        return Ok(Vec::new());
    }
    let terms = Terms::new(&search.text);
    let mut conn = store.conn().await?;
    let outcome = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, TxStop<Infallible>, _>(async |conn| {
            diesel::sql_query(STATEMENT_TIMEOUT).execute(conn).await?;
            let rows = find(conn, search, &terms, limit, path).await?;
            let scores: Vec<i64> = rows.iter().map(|row| row.score).collect();
            let messages = with_reactions(conn, rows.into_iter().map(|row| row.message).collect()).await?;
            Ok(messages.into_iter().zip(scores).map(|(message, score)| SearchHit { message, score }).collect())
        })
        .await;
    match settle(outcome)? {
        Ok(hits) => Ok(hits),
        Err(never) => match never {},
    }
}

/// How a search through the indexes runs: `step` alone finds every match; `words_first`,
/// when set, first finds the whole-word and prefix matches without the phrase's trigrams.
#[derive(Clone, Copy, Debug)]
struct ThroughIndexes {
    step: Step,
    words_first: Option<Step>,
}

async fn find(
    conn: &mut AsyncPgConnection,
    search: &MessageSearch,
    terms: &Terms,
    limit: usize,
    path: SearchPath,
) -> Result<Vec<HitRow>, TxStop<Infallible>> {
    let indexed = match path {
        SearchPath::Indexes { lookup, scopes_by_index } => Some(ThroughIndexes {
            step: Step::Indexed { lookup, scopes_by_index },
            words_first: terms.pattern.is_some().then_some(Step::Words { lookup, scopes_by_index }),
        }),
        SearchPath::NewestFirst => None,
        SearchPath::ByEstimate => by_estimate(conn, terms, limit).await?,
    };
    if let Some(indexed) = indexed {
        return through_indexes(conn, search, terms, indexed, limit).await;
    }
    let as_of = search.as_of.timestamp();
    for days in WINDOW_DAYS {
        let Some(since) = Timestamp::from_timestamp(as_of.saturating_sub(days * SECONDS_PER_DAY), 0) else { break };
        if search.sent_before.is_some_and(|before| before <= since) {
            // Nothing the filter lets through is this recent.
            continue;
        }
        let rows = run(conn, search, terms, Step::Since(since), limit).await?;
        if page_is_final(search, since, &rows, limit) {
            tracing::debug!(days, "message search answered from the newest messages");
            return Ok(rows);
        }
    }
    tracing::debug!("message search read every message of its scopes");
    run(conn, search, terms, Step::Scan, limit).await
}

/// The page through the indexes: with `words_first`, the whole-word and prefix matches, and
/// then only the matches inside words that can still rank on the page (none, those of the
/// last few days, or all of them through `step`).
async fn through_indexes(
    conn: &mut AsyncPgConnection,
    search: &MessageSearch,
    terms: &Terms,
    indexed: ThroughIndexes,
    limit: usize,
) -> Result<Vec<HitRow>, TxStop<Infallible>> {
    if let Some(words) = indexed.words_first {
        let rows = run(conn, search, terms, words, limit).await?;
        let page_end = rows.last().filter(|_| rows.len() >= limit).map(|last| last.score);
        match inside_words_wanted(search.as_of, page_end) {
            InsideWords::None => {
                tracing::debug!("message search answered by whole words and prefixes");
                return Ok(rows);
            }
            InsideWords::Since(since) => {
                tracing::debug!(%since, "message search looked inside words of the newest messages only");
                let newest = run(conn, search, terms, Step::Since(since), limit).await?;
                return Ok(merge(rows, newest, limit));
            }
            InsideWords::All => {}
        }
    }
    run(conn, search, terms, indexed.step, limit).await
}

/// Which matches inside words a search still needs after its best `limit` matches of whole
/// words and prefixes (`rows`).
#[derive(Debug, PartialEq, Eq)]
enum InsideWords {
    /// None can rank on the page.
    None,
    /// Those sent from this moment on (the page's last result outranks any sent earlier).
    Since(Timestamp),
    /// Any of them.
    All,
}

/// The matches inside words a search ranked at `as_of` still needs when its best matches of
/// whole words and prefixes fill a page ending at the score `page_end` (none when they do
/// not fill it). A match inside words ranks on the page only if it ranks above the page's
/// last result (ties broken by id), so its score must reach that result's: it must have
/// been sent after some moment, the later the higher the score. When that moment is recent,
/// reading the scopes' messages since then costs less than the trigram lookup.
fn inside_words_wanted(as_of: Timestamp, page_end: Option<i64>) -> InsideWords {
    let Some(page_end) = page_end else { return InsideWords::All };
    let at = |age: i64| Timestamp::from_timestamp(as_of.timestamp().saturating_sub(age), 0);
    let reaches = |age: i64| at(age).is_some_and(|sent| score(MatchTier::Substring, sent, as_of) >= page_end);
    let window = SUBSTRING_WINDOW_DAYS * SECONDS_PER_DAY;
    if !reaches(0) {
        return InsideWords::None;
    }
    if reaches(window) {
        return InsideWords::All;
    }
    // The oldest whole second whose score reaches the last result's: the score falls with
    // age, so it is found by halving [reaches, does not reach).
    let (mut reached, mut missed) = (0, window);
    while missed - reached > 1 {
        let middle = reached + (missed - reached) / 2;
        if reaches(middle) { reached = middle } else { missed = middle }
    }
    at(reached).map_or(InsideWords::All, InsideWords::Since)
}

/// The best `limit` of two sets of results, each message once.
fn merge(rows: Vec<HitRow>, more: Vec<HitRow>, limit: usize) -> Vec<HitRow> {
    best_of(rows, more, limit, |row| (row.score, row.message.id))
}

/// The first `limit` of `a` and `b` by descending `key` (score, then id), each key once.
fn best_of<T>(mut a: Vec<T>, b: Vec<T>, limit: usize, key: impl Fn(&T) -> (i64, uuid::Uuid)) -> Vec<T> {
    a.extend(b);
    a.sort_by_key(|item| std::cmp::Reverse(key(item)));
    a.dedup_by_key(|item| key(item));
    a.truncate(limit);
    a
}

/// Whether the planner expects few enough matches for the indexes to be the way in, and if
/// so how they should be read.
async fn by_estimate(
    conn: &mut AsyncPgConnection,
    terms: &Terms,
    limit: usize,
) -> Result<Option<ThroughIndexes>, TxStop<Infallible>> {
    let estimate: Estimate = estimate_statement(terms).into_query().get_result(conn).await?;
    // Without an estimate (it cannot happen while the function is the migration's), the
    // newest-first reading is the one whose cost does not depend on the words.
    let matches = estimate.estimate.unwrap_or(i64::MAX);
    if matches > RARE_MATCHES {
        tracing::debug!(matches, "message search reading the newest messages first");
        return Ok(None);
    }
    let lookup = cheapest_lookup(&estimate);
    let step = Step::Indexed { lookup, scopes_by_index: scopes_by_index(&estimate, lookup) };
    // The statement looks up the phrase's trigrams (25 to 40 ms for a phrase of common
    // ones): first the matches of whole words and prefixes, when there may be a page of them.
    let trigrams = terms.pattern.is_some() && matches!(lookup, Lookup::Words | Lookup::LeadingWords);
    let words_first = (trigrams && usize::try_from(matches).is_ok_and(|matches| matches >= limit)).then(|| {
        let lookup = cheapest_word_lookup(&estimate);
        Step::Words { lookup, scopes_by_index: scopes_by_index(&estimate, lookup) }
    });
    tracing::debug!(matches, ?step, ?words_first, "message search through the indexes");
    Ok(Some(ThroughIndexes { step, words_first }))
}

/// Whether the rows `lookup` finds are many enough to intersect them with the scopes
/// through an index rather than check each (more than [`FEW_ROWS`], or unknown).
fn scopes_by_index(estimate: &Estimate, lookup: Lookup) -> bool {
    let matches = estimate.estimate.unwrap_or(i64::MAX);
    let found = match lookup {
        Lookup::Words | Lookup::LeadingWords => Some(matches.max(estimate.leading.unwrap_or(0))),
        Lookup::MiddleWords => estimate.middle,
        Lookup::LastWord => estimate.last,
    };
    found.is_none_or(|found| found > FEW_ROWS)
}

/// The lookup that reads the least, by the planner's estimates of how many messages hold
/// each part of the query, in index entries read: an entry of a whole word counts 1, of a
/// prefix [`PREFIX_ENTRY`] (the words a prefix begins are read one by one and merged), and
/// a trigram lookup of the phrase [`TRIGRAM_LOOKUP`] (a phrase's trigrams are mostly common
/// ones: 10 to 50 ms for names of two or three words on the benchmark machine, as much as
/// reading some 40,000 entries of a word). Words every match holds (the middle ones, the last
/// as a prefix) need no trigram lookup beside them.
fn cheapest_lookup(estimate: &Estimate) -> Lookup {
    let (Some(leading), Some(last)) = (estimate.leading, estimate.last) else { return Lookup::Words };
    let candidates = [
        (Lookup::MiddleWords, estimate.middle),
        (Lookup::LastWord, Some(last.saturating_mul(PREFIX_ENTRY))),
        (Lookup::LeadingWords, Some(leading.saturating_add(TRIGRAM_LOOKUP))),
        (Lookup::Words, Some(last.saturating_mul(PREFIX_ENTRY).saturating_add(leading).saturating_add(TRIGRAM_LOOKUP))),
    ];
    candidates
        .into_iter()
        .filter_map(|(lookup, cost)| Some((lookup, cost?)))
        .min_by_key(|(_, cost)| *cost)
        .map_or(Lookup::Words, |(lookup, _)| lookup)
}

/// [`cheapest_lookup`] for the whole-word and prefix matches alone, which need no trigram
/// lookup beside any of the words.
fn cheapest_word_lookup(estimate: &Estimate) -> Lookup {
    let (Some(leading), Some(last)) = (estimate.leading, estimate.last) else { return Lookup::Words };
    [
        (Lookup::MiddleWords, estimate.middle),
        (Lookup::LastWord, Some(last.saturating_mul(PREFIX_ENTRY))),
        (Lookup::LeadingWords, Some(leading)),
    ]
    .into_iter()
    .filter_map(|(lookup, cost)| Some((lookup, cost?)))
    .min_by_key(|(_, cost)| *cost)
    .map_or(Lookup::Words, |(lookup, _)| lookup)
}

async fn run(
    conn: &mut AsyncPgConnection,
    search: &MessageSearch,
    terms: &Terms,
    step: Step,
    limit: usize,
) -> Result<Vec<HitRow>, TxStop<Infallible>> {
    Ok(search_statement(search, terms, step, limit).into_query().load(conn).await?)
}

/// Whether the page of the messages sent from `since` on is the page of the whole search:
/// nothing sent earlier passes the filters, or the page is full and its last result scores
/// more than any earlier message can (an exact match sent just before `since`).
fn page_is_final(search: &MessageSearch, since: Timestamp, rows: &[HitRow], limit: usize) -> bool {
    if search.sent_after.is_some_and(|after| after >= since) {
        return true;
    }
    let Some(last) = rows.last() else { return false };
    rows.len() >= limit && last.score > best_score_before(since, search.as_of)
}

/// The most a message sent before `since` (a whole second) can score: its time is at most
/// `since` − 1 s in whole seconds, and the score falls with age.
fn best_score_before(since: Timestamp, as_of: Timestamp) -> i64 {
    // Falling back to `since` itself only raises the bound, which is safe.
    let latest = Timestamp::from_timestamp(since.timestamp().saturating_sub(1), 0).unwrap_or(since);
    score(MatchTier::Exact, latest, as_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(leading: Option<i64>, middle: Option<i64>, last: i64) -> Estimate {
        Estimate { estimate: Some(0), leading, middle, last: Some(last) }
    }

    #[test]
    fn the_lookup_reads_the_fewest_entries() {
        // One word: the word itself.
        assert_eq!(cheapest_lookup(&estimate(None, None, 5)), Lookup::Words);
        // Two words: the last word's prefix alone unless it is common, then the words before
        // it and the trigrams.
        assert_eq!(cheapest_lookup(&estimate(Some(9), None, 500)), Lookup::LastWord);
        assert_eq!(cheapest_lookup(&estimate(Some(9), None, 90_000)), Lookup::LeadingWords);
        // Three words: the middle ones when they are rarer than the last word's prefix.
        assert_eq!(cheapest_lookup(&estimate(Some(9), Some(300), 500)), Lookup::MiddleWords);
        assert_eq!(cheapest_lookup(&estimate(Some(9), Some(1_100), 500)), Lookup::LastWord);
        assert_eq!(cheapest_lookup(&estimate(Some(1_400), Some(25_000), 21_000)), Lookup::MiddleWords);
        assert_eq!(cheapest_lookup(&estimate(Some(9), Some(90_000), 80_000)), Lookup::LeadingWords);
    }

    #[test]
    fn matches_inside_words_are_wanted_only_where_they_can_rank() {
        let as_of = Timestamp::from_timestamp(1_800_000_000, 0).unwrap();
        let aged =
            |tier, secs: i64| score(tier, Timestamp::from_timestamp(as_of.timestamp() - secs, 0).unwrap(), as_of);
        // No full page of words: any of them may rank.
        assert_eq!(inside_words_wanted(as_of, None), InsideWords::All);
        // Whole words of the last 30 days outscore any match inside words.
        assert_eq!(inside_words_wanted(as_of, Some(aged(MatchTier::Exact, 29 * SECONDS_PER_DAY))), InsideWords::None);
        // A page ending at a prefix match of 20 days: those of the last 3⅓ days, to the second.
        let page_end = aged(MatchTier::Prefix, 20 * SECONDS_PER_DAY);
        let InsideWords::Since(since) = inside_words_wanted(as_of, Some(page_end)) else { panic!("a window") };
        let age = as_of.timestamp() - since.timestamp();
        assert!(aged(MatchTier::Substring, age) >= page_end && aged(MatchTier::Substring, age + 1) < page_end);
        assert!((3 * SECONDS_PER_DAY..4 * SECONDS_PER_DAY).contains(&age), "{age}");
        // A page ending at an old match: past the window, so all of them.
        assert_eq!(inside_words_wanted(as_of, Some(aged(MatchTier::Exact, 200 * SECONDS_PER_DAY))), InsideWords::All);
    }

    #[test]
    fn merged_results_keep_the_best_once_each() {
        let id = |n: u128| uuid::Uuid::from_u128(n);
        let words = vec![(9, id(1)), (7, id(5)), (7, id(3))];
        let newest = vec![(8, id(2)), (7, id(5)), (7, id(4))];
        let merged = best_of(words, newest, 4, |item| *item);
        assert_eq!(merged, [(9, id(1)), (8, id(2)), (7, id(5)), (7, id(4))]);
    }

    #[test]
    fn an_earlier_message_never_outscores_the_bound() {
        let as_of = Timestamp::from_timestamp(1_800_000_000, 0).unwrap();
        let since = Timestamp::from_timestamp(1_800_000_000 - 2 * SECONDS_PER_DAY, 0).unwrap();
        let bound = best_score_before(since, as_of);
        // Just before the window, to the microsecond: still within the bound.
        let just_before = Timestamp::from_timestamp(since.timestamp() - 1, 999_999_000).unwrap();
        assert_eq!(score(MatchTier::Exact, just_before, as_of), bound);
        // The first moment of the window may score more.
        assert!(score(MatchTier::Exact, since, as_of) > bound);
    }
}
