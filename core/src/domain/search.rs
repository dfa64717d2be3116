//! Message search: how a query is read, what a message must contain to match, how matches
//! rank, and the highlighted snippet. Every store follows these rules: the memory store runs
//! them directly; Postgres mirrors them in SQL (a generated `tsvector` of the folded body and a
//! trigram index on it, see `docs/database.md`), and the search contract suite checks that
//! both return the same thing.
//!
//! Text is compared folded ([`fold_for_search`]: lower case, no Vietnamese marks, `đ` as `d`)
//! and cut into words at every character that is not a letter or a digit, so "Nguyễn-Đức" is
//! the words `nguyen` and `duc`, and operators typed in a query (`&`, `|`, `!`, `:*`, quotes)
//! are separators, never syntax.

use unicode_normalization::char::is_combining_mark;

use super::Timestamp;
use super::error::Invalid;
use super::ids::MessageId;
use super::social::fold_for_search;
use super::text::{Layout, refuse_control_characters};

/// The longest query, in characters as typed.
pub const MAX_QUERY_CHARS: usize = 100;
/// The shortest folded query that is also looked for inside words ("12345" in "DH12345").
pub const MIN_SUBSTRING_CHARS: usize = 3;
/// The age at which a match's recency weight has halved (30 days).
pub const RECENCY_HALVING_SECS: i64 = 30 * 24 * 60 * 60;
/// The score of a match of the best tier sent at the moment of the search.
const TIER_UNIT: i64 = 250_000_000;

/// A search query as the server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchText {
    words: Vec<String>,
    phrase: String,
}

impl SearchText {
    /// Reads a query: at most [`MAX_QUERY_CHARS`] characters, no control characters, and at
    /// least one letter or digit (`invalid_query` otherwise).
    pub fn parse(raw: &str) -> Result<SearchText, Invalid> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(Invalid::new("query_too_long", format!("search for at most {MAX_QUERY_CHARS} characters")));
        }
        refuse_control_characters(raw, Layout::SingleLine, "the search")?;
        let words = search_words(raw);
        if words.is_empty() {
            return Err(Invalid::new("invalid_query", "search for at least one letter or digit"));
        }
        let phrase = words.join(" ");
        Ok(SearchText { words, phrase })
    }

    /// The folded words, in the order typed; the last one also matches as a prefix.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The folded words joined by single spaces.
    pub fn phrase(&self) -> &str {
        &self.phrase
    }

    /// The phrase to look for inside words too, when it is long enough to mean something.
    pub fn substring(&self) -> Option<&str> {
        (self.phrase.chars().count() >= MIN_SUBSTRING_CHARS).then_some(self.phrase.as_str())
    }

    /// How well a text matches, from its folded words (see [`search_words`]); `None` when it
    /// does not.
    pub fn match_tier(&self, text_words: &[String]) -> Option<MatchTier> {
        let (last, leading) = self.words.split_last()?;
        let has = |word: &String| text_words.iter().any(|w| w == word);
        if leading.iter().all(has) {
            if has(last) {
                return Some(MatchTier::Exact);
            }
            if text_words.iter().any(|w| w.starts_with(last.as_str())) {
                return Some(MatchTier::Prefix);
            }
        }
        let substring = self.substring()?;
        text_words.join(" ").contains(substring).then_some(MatchTier::Substring)
    }
}

/// How a message matched, best last: the order is the ranking's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchTier {
    /// The phrase occurs inside the text, not on word boundaries ("12345" in "DH12345").
    Substring = 2,
    /// Every word but the last occurs whole; the last begins a word (typing "nguy").
    Prefix = 3,
    /// Every word occurs whole, in any order.
    Exact = 4,
}

/// The folded words of a text: [`fold_for_search`], cut at every character that is not a
/// letter or a digit.
pub fn search_words(text: &str) -> Vec<String> {
    fold_for_search(text).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// Relevance and recency in one number, higher first: the tier's weight divided by
/// `1 + age / 30 days`, so a whole-word match from today outranks one from last month, which
/// outranks a prefix match of the same day. Whole seconds and integer arithmetic, so every
/// store computes exactly the same value and cursors compare exactly.
pub fn score(tier: MatchTier, sent_at: Timestamp, as_of: Timestamp) -> i64 {
    let age = as_of.timestamp().saturating_sub(sent_at.timestamp()).max(0);
    (tier as i64) * TIER_UNIT * RECENCY_HALVING_SECS / (RECENCY_HALVING_SECS + age)
}

/// Where a page of results ends: the next page holds what ranks strictly below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchPosition {
    /// The last result's score.
    pub score: i64,
    /// The last result's id (ties on score: higher ids, newer messages, first).
    pub id: MessageId,
}

impl SearchPosition {
    /// Whether a result with this score and id ranks below the position (comes after it).
    pub fn is_before(&self, score: i64, id: MessageId) -> bool {
        (score, id.0) < (self.score, self.id.0)
    }
}

/// A cursor handed to the client: the moment the search is ranked at, kept for every page so
/// scores do not drift while the user pages, and the position reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchCursor {
    /// The moment recency is measured from (whole seconds).
    pub as_of: Timestamp,
    /// The last result given.
    pub position: SearchPosition,
}

impl SearchCursor {
    /// `as_of_score_id`, opaque to clients.
    pub fn format(&self) -> String {
        format!("{}_{}_{}", self.as_of.timestamp(), self.position.score, self.position.id)
    }

    /// Reads a cursor this server gave out (`invalid_cursor` otherwise).
    pub fn parse(raw: &str) -> Result<SearchCursor, Invalid> {
        let invalid = || Invalid::new("invalid_cursor", "cursor is not one this server gave out");
        let mut parts = raw.splitn(3, '_');
        let (Some(as_of), Some(score), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let as_of = as_of.parse().ok().and_then(|secs| Timestamp::from_timestamp(secs, 0)).ok_or_else(invalid)?;
        let score = score.parse().map_err(|_| invalid())?;
        let id = id.parse().map_err(|_| invalid())?;
        Ok(SearchCursor { as_of, position: SearchPosition { score, id } })
    }
}

/// The most words of a snippet.
const SNIPPET_WORDS: usize = 24;
/// Words of context kept before the first match.
const SNIPPET_LEAD: usize = 6;
/// Where the client draws the highlight: the snippet is HTML-escaped text in which these
/// tags, and only these, surround each matched word.
pub const MARK_OPEN: &str = "<mark>";
/// Closes a highlight.
pub const MARK_CLOSE: &str = "</mark>";

/// A short extract of `body` around the first match, HTML-escaped, the matched words inside
/// [`MARK_OPEN`] / [`MARK_CLOSE`], white space folded to single spaces, and `…` where text was
/// cut. Matching follows [`SearchText::match_tier`], so "nguyen" marks "Nguyễn".
pub fn snippet(body: &str, query: &SearchText) -> String {
    let words = word_spans(body);
    let marked = marked_words(&words, query);
    let first = marked.iter().position(|m| *m).unwrap_or(0);
    // Context before the first match, more of it when the text ends soon after.
    let start = first.saturating_sub(SNIPPET_LEAD).min(words.len().saturating_sub(SNIPPET_WORDS));
    let end = (start + SNIPPET_WORDS).min(words.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let text_start = if start == 0 { 0 } else { words[start].start };
    let mut cursor = text_start;
    for index in start..end {
        let span = &words[index];
        push_escaped(&mut out, &body[cursor..span.start]);
        if marked[index] {
            out.push_str(MARK_OPEN);
            push_escaped(&mut out, &body[span.start..span.end]);
            out.push_str(MARK_CLOSE);
        } else {
            push_escaped(&mut out, &body[span.start..span.end]);
        }
        cursor = span.end;
    }
    if end < words.len() {
        out.push('…');
    } else {
        push_escaped(&mut out, &body[cursor..]);
    }
    collapse_whitespace(out.trim())
}

/// One word of the original text: where it is, and its folded form.
struct WordSpan {
    start: usize,
    end: usize,
    folded: String,
}

/// The words of a text with their byte ranges; combining marks stay with their letter, so a
/// decomposed "Nguyễn" is one word.
fn word_spans(text: &str) -> Vec<WordSpan> {
    let mut spans = Vec::new();
    let mut start = None;
    for (index, c) in text.char_indices() {
        let in_word = c.is_alphanumeric() || (start.is_some() && is_combining_mark(c));
        match (in_word, start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                spans.push(span(text, begin, index));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        spans.push(span(text, begin, text.len()));
    }
    spans.retain(|s| !s.folded.is_empty());
    spans
}

fn span(text: &str, start: usize, end: usize) -> WordSpan {
    WordSpan { start, end, folded: search_words(&text[start..end]).concat() }
}

/// Which words to highlight: whole query words, words the last query word begins, and every
/// word the phrase overlaps where it occurs inside the text.
fn marked_words(words: &[WordSpan], query: &SearchText) -> Vec<bool> {
    let last = query.words().last();
    let mut marked: Vec<bool> = words
        .iter()
        .map(|w| query.words().contains(&w.folded) || last.is_some_and(|l| w.folded.starts_with(l.as_str())))
        .collect();
    if let Some(substring) = query.substring() {
        let mut joined = String::new();
        let mut offsets = Vec::with_capacity(words.len());
        for word in words {
            if !joined.is_empty() {
                joined.push(' ');
            }
            offsets.push((joined.len(), joined.len() + word.folded.len()));
            joined.push_str(&word.folded);
        }
        for (at, _) in joined.match_indices(substring) {
            let end = at + substring.len();
            for (index, (from, to)) in offsets.iter().enumerate() {
                if *from < end && at < *to {
                    marked[index] = true;
                }
            }
        }
    }
    marked
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn query(raw: &str) -> SearchText {
        SearchText::parse(raw).unwrap()
    }

    fn tier(raw: &str, text: &str) -> Option<MatchTier> {
        query(raw).match_tier(&search_words(text))
    }

    #[test]
    fn queries_are_folded_words_and_operators_are_text() {
        assert_eq!(query("Nguyễn ĐỨC").words(), ["nguyen", "duc"]);
        assert_eq!(query("a & b | !c:*").words(), ["a", "b", "c"]);
        assert_eq!(query("  'phở' ").phrase(), "pho");
        assert_eq!(SearchText::parse("  ").map_err(|e| e.code), Err("invalid_query"));
        assert_eq!(SearchText::parse("&|!").map_err(|e| e.code), Err("invalid_query"));
        assert_eq!(SearchText::parse(&"a".repeat(101)).map_err(|e| e.code), Err("query_too_long"));
        assert_eq!(SearchText::parse("a\u{0}b").map_err(|e| e.code), Err("invalid_characters"));
        assert!(SearchText::parse(&"ữ".repeat(100)).is_ok(), "the limit counts characters, not bytes");
    }

    #[test]
    fn marks_are_ignored_both_ways() {
        assert_eq!(tier("nguyen", "Chào Nguyễn"), Some(MatchTier::Exact));
        assert_eq!(tier("Nguyễn", "chao nguyen"), Some(MatchTier::Exact));
        assert_eq!(tier("duc", "anh Đức"), Some(MatchTier::Exact));
        assert_eq!(tier("đức", "anh Duc"), Some(MatchTier::Exact));
        // Decomposed marks, as some keyboards type them.
        assert_eq!(tier("nguyễn", "Nguye\u{302}\u{303}n"), Some(MatchTier::Exact));
    }

    #[test]
    fn the_last_word_is_a_prefix_and_the_phrase_a_substring() {
        assert_eq!(tier("hop chi", "họp chiều nay"), Some(MatchTier::Prefix));
        assert_eq!(tier("ho chieu", "họp chiều nay"), None, "only the last word is a prefix");
        assert_eq!(tier("12345", "mã đơn DH12345"), Some(MatchTier::Substring));
        assert_eq!(tier("45", "DH12345"), None, "too short to look inside words");
        assert_eq!(tier("chieu nay", "nay chiều"), Some(MatchTier::Exact), "words in any order");
        assert_eq!(tier("tam biet", "chào"), None);
        assert!(MatchTier::Exact > MatchTier::Prefix && MatchTier::Prefix > MatchTier::Substring);
    }

    #[test]
    fn score_weighs_tier_and_recency() {
        let now = Timestamp::from_timestamp(2_000_000_000, 0).unwrap();
        let today = score(MatchTier::Exact, now, now);
        let month = score(MatchTier::Exact, now - Duration::days(30), now);
        assert_eq!(month * 2, today, "halved after 30 days");
        assert!(score(MatchTier::Prefix, now, now) > month);
        assert!(score(MatchTier::Exact, now - Duration::days(1), now) > score(MatchTier::Prefix, now, now));
        assert_eq!(score(MatchTier::Exact, now + Duration::hours(1), now), today, "clock skew is no bonus");
        assert_eq!(score(MatchTier::Exact, now, now + Duration::milliseconds(999)), today, "whole seconds");
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = MessageId(uuid::Uuid::now_v7());
        let cursor = SearchCursor {
            as_of: Timestamp::from_timestamp(1_800_000_000, 0).unwrap(),
            position: SearchPosition { score: 42, id },
        };
        assert_eq!(SearchCursor::parse(&cursor.format()), Ok(cursor));
        for bad in ["", "1_2", "x_1_2", "1_x_2", &format!("1_2_{id}x")] {
            assert_eq!(SearchCursor::parse(bad).map_err(|e| e.code), Err("invalid_cursor"), "{bad}");
        }
    }

    #[test]
    fn snippets_mark_matches_and_escape_the_rest() {
        assert_eq!(
            snippet("Chào <b>Nguyễn</b> & Đức!", &query("nguyen duc")),
            "Chào &lt;b&gt;<mark>Nguyễn</mark>&lt;/b&gt; &amp; <mark>Đức</mark>!"
        );
        assert_eq!(snippet("họp\n\nchiều nay", &query("hop chi")), "<mark>họp</mark> <mark>chiều</mark> nay");
        assert_eq!(snippet("mã đơn DH12345 đã giao", &query("12345")), "mã đơn <mark>DH12345</mark> đã giao");
    }

    #[test]
    fn long_bodies_are_cut_around_the_first_match() {
        let body = (1..=60).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ") + " Đức";
        let cut = snippet(&format!("{body} cuối"), &query("duc"));
        assert!(cut.starts_with('…') && cut.contains("<mark>Đức</mark>"), "{cut}");
        let head = snippet(&format!("Đức {body}"), &query("duc"));
        assert!(head.starts_with("<mark>Đức</mark> w1") && head.ends_with('…'), "{head}");
    }
}
