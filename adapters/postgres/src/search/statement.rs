//! The SQL of one search step: its text, put together from fixed fragments, and its
//! parameters in order. What the user typed only ever travels as a parameter, and only in
//! forms that are data to Postgres: each word a quoted tsquery lexeme, the phrase a LIKE
//! pattern with its wildcards escaped.

use chat_core::domain::Timestamp;
use chat_core::domain::search::{MatchTier, RECENCY_HALVING_SECS, SearchText, score};
use chat_core::ports::MessageSearch;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};

use crate::rows::{MESSAGE_COLUMNS, message_kind_name, to_i64};

/// What a search looks for, as parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Terms {
    /// A tsquery of every word whole: `'a' & 'b'`.
    pub exact: String,
    /// The same with the last word also as a prefix: `'a' & 'b':*`.
    pub prefix: String,
    /// Every word but the last, whole: `'a'` (none for one word).
    pub leading: Option<String>,
    /// The words between the first and the last, whole (none for fewer than three words).
    pub middle: Option<String>,
    /// The last word as a prefix: `'b':*`.
    pub last: String,
    /// `%phrase%`, LIKE's wildcards escaped, when the phrase is long enough to be looked for
    /// inside words.
    pub pattern: Option<String>,
}

impl Terms {
    pub fn new(text: &SearchText) -> Terms {
        let lexemes: Vec<String> = text.words().iter().map(|word| lexeme(word)).collect();
        let exact = lexemes.join(" & ");
        let prefix = format!("{exact}:*");
        let joined = |words: &[String]| (!words.is_empty()).then(|| words.join(" & "));
        let (last, leading) = match lexemes.split_last() {
            Some((last, leading)) => (format!("{last}:*"), leading),
            None => (String::new(), &[][..]),
        };
        let middle = leading.split_first().and_then(|(_, middle)| joined(middle));
        Terms { exact, prefix, leading: joined(leading), middle, last, pattern: text.substring().map(like_pattern) }
    }
}

/// Where a step takes its candidates from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// The GIN indexes: for queries few messages match.
    Indexed {
        /// What they look up.
        lookup: Lookup,
        /// Whether the scopes are intersected with the lookup's rows through an index (a
        /// bitmap of every message of the scopes) or checked on each row found: the bitmap
        /// costs more than reading a few thousand rows.
        scopes_by_index: bool,
    },
    /// The word index alone, looking up what `lookup` says: the whole-word and prefix
    /// matches, none of those inside words, so the phrase's trigrams are not looked up.
    Words {
        /// What the word index looks up.
        lookup: Lookup,
        /// As for [`Step::Indexed`].
        scopes_by_index: bool,
    },
    /// The scopes' messages sent from this moment on (`messages_conversation_time`), each
    /// checked against the query.
    Since(Timestamp),
    /// Every message of the scopes, each checked against the query.
    Scan,
}

/// What the GIN indexes look up to find every message that may match; each candidate is
/// then checked against the whole query. A lookup reads every index entry of each word it
/// names, and for a prefix every entry of every word the prefix begins, so the cheapest
/// lookup is the one naming the rarest words (`steps` chooses by the planner's estimates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The words (the last as a prefix), or the phrase's trigrams.
    Words,
    /// The words before the last, whole, or the phrase's trigrams.
    LeadingWords,
    /// The words between the first and the last, whole: a match of three words or more has
    /// them whole, also inside a longer run ("xnguyen van ducx" holds `van`).
    MiddleWords,
    /// The last word as a prefix: a match of two words or more begins a word with it.
    LastWord,
}

/// One statement: SQL and its parameters, `$1` first.
#[derive(Debug, Default)]
pub(super) struct Statement {
    sql: String,
    params: Vec<Param>,
}

#[derive(Clone, Debug, PartialEq)]
enum Param {
    Uuid(uuid::Uuid),
    Uuids(Vec<uuid::Uuid>),
    BigInt(i64),
    BigInts(Vec<i64>),
    Text(String),
    OptionalText(Option<String>),
    Time(Timestamp),
}

impl Statement {
    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    #[cfg(test)]
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement for diesel, its parameters bound in order.
    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.sql).into_boxed::<Pg>();
        for param in self.params {
            query = match param {
                Param::Uuid(value) => query.bind::<SqlUuid, _>(value),
                Param::Uuids(values) => query.bind::<Array<SqlUuid>, _>(values),
                Param::BigInt(value) => query.bind::<BigInt, _>(value),
                Param::BigInts(values) => query.bind::<Array<BigInt>, _>(values),
                Param::Text(value) => query.bind::<Text, _>(value),
                Param::OptionalText(value) => query.bind::<Nullable<Text>, _>(value),
                Param::Time(value) => query.bind::<Timestamptz, _>(value),
            };
        }
        query
    }
}

/// How many messages the planner expects to match, in the whole table (migration
/// `000006`'s `chat_search_estimate`): the search (`estimate`), the words before the last
/// (`leading`), the words between the first and the last (`middle`), each null when the
/// query has no such words, and the last word's prefix (`last`).
pub(super) fn estimate_statement(terms: &Terms) -> Statement {
    let mut s = Statement::default();
    let query = s.param(Param::Text(terms.prefix.clone()));
    let pattern = s.param(Param::OptionalText(terms.pattern.clone()));
    let leading = s.param(Param::OptionalText(terms.leading.clone()));
    let middle = s.param(Param::OptionalText(terms.middle.clone()));
    let last = s.param(Param::Text(terms.last.clone()));
    let words = |param: &str| {
        format!("CASE WHEN {param} IS NULL THEN NULL ELSE chat_search_estimate({param}::tsquery, NULL) END")
    };
    s.sql = format!(
        "SELECT chat_search_estimate({query}::tsquery, {pattern}) AS estimate, {} AS leading, {} AS middle, \
         chat_search_estimate({last}::tsquery, NULL) AS last",
        words(&leading),
        words(&middle),
    );
    s
}

/// The best `limit` results of `search` among the candidates of `step`, best first, with
/// their scores (the column `score`).
pub(super) fn search_statement(search: &MessageSearch, terms: &Terms, step: Step, limit: usize) -> Statement {
    let mut s = Statement::default();
    let exact = s.param(Param::Text(terms.exact.clone()));
    let prefix = s.param(Param::Text(terms.prefix.clone()));
    // `score` is tier × unit × halving / (halving + age): these are its numerators, taken
    // from the domain's own function (the score of each tier at age 0, times the halving).
    let numerator = |tier| score(tier, search.as_of, search.as_of) * RECENCY_HALVING_SECS;
    let exact_numerator = s.param(Param::BigInt(numerator(MatchTier::Exact)));
    let prefix_numerator = s.param(Param::BigInt(numerator(MatchTier::Prefix)));
    let substring_numerator = s.param(Param::BigInt(numerator(MatchTier::Substring)));
    let halving = s.param(Param::BigInt(RECENCY_HALVING_SECS));
    let as_of = s.param(Param::BigInt(search.as_of.timestamp()));
    let conversations = s.param(Param::Uuids(search.scopes.iter().map(|scope| scope.conversation.0).collect()));
    let mut sql = format!(
        "SELECT * FROM (SELECT {MESSAGE_COLUMNS}, \
         CASE WHEN m.search_vector @@ {exact}::tsquery THEN {exact_numerator} \
         WHEN m.search_vector @@ {prefix}::tsquery THEN {prefix_numerator} ELSE {substring_numerator} END \
         / ({halving} + greatest(0, {as_of} - floor(extract(epoch FROM m.created_at))::bigint)) AS score \
         FROM messages m"
    );
    // `IS TRUE` changes nothing but keeps the test out of any index: the planner would
    // otherwise read the scopes' whole bitmap, also to check the three rows a rare word has.
    sql += &match step {
        Step::Indexed { scopes_by_index: false, .. } | Step::Words { scopes_by_index: false, .. } => {
            format!(" WHERE (m.conversation_id = ANY({conversations})) IS TRUE")
        }
        _ => format!(" WHERE m.conversation_id = ANY({conversations})"),
    };
    if search.scopes.iter().any(|scope| scope.after_seq > 0) {
        let after_seqs = s.param(Param::BigInts(search.scopes.iter().map(|scope| to_i64(scope.after_seq)).collect()));
        sql += &format!(" AND m.seq > ({after_seqs})[array_position({conversations}, m.conversation_id)]");
    }
    if let Step::Since(since) = step {
        sql += &format!(" AND m.created_at >= {}", s.param(Param::Time(since)));
    }
    sql += &format!(" AND {}", match_condition(&mut s, terms, step, &prefix));
    sql += " AND m.kind <> 'SYSTEM' AND m.recalled_at IS NULL";
    if let Some(sender) = search.sender {
        sql += &format!(" AND m.sender_id = {}", s.param(Param::Uuid(sender.0)));
    }
    if let Some(kind) = search.kind {
        sql += &format!(" AND m.kind = {}", s.param(Param::Text(message_kind_name(kind).to_owned())));
    }
    if let Some(before) = search.sent_before {
        sql += &format!(" AND m.created_at < {}", s.param(Param::Time(before)));
    }
    if let Some(after) = search.sent_after {
        sql += &format!(" AND m.created_at > {}", s.param(Param::Time(after)));
    }
    if !search.excluded_senders.is_empty() {
        let excluded = s.param(Param::Uuids(search.excluded_senders.iter().map(|user| user.0).collect()));
        sql += &format!(" AND m.sender_id <> ALL({excluded})");
    }
    let viewer = s.param(Param::Uuid(search.viewer.0));
    sql += &format!(
        " AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.user_id = {viewer} AND h.message_id = m.id)) m"
    );
    if let Some(after) = search.after {
        let score = s.param(Param::BigInt(after.score));
        let id = s.param(Param::Uuid(after.id.0));
        sql += &format!(" WHERE (m.score, m.id) < ({score}, {id})");
    }
    let limit = s.param(Param::BigInt(i64::try_from(limit).unwrap_or(i64::MAX)));
    sql += &format!(" ORDER BY m.score DESC, m.id DESC LIMIT {limit}");
    s.sql = sql;
    s
}

/// The condition a candidate must meet: it matches the query as words or its phrase inside
/// words. Spelt with the operators the GIN indexes serve where the step looks up through
/// them, and otherwise with the functions behind the operators, which no index serves, so
/// that the planner cannot pick a bitmap of every message holding a frequent word when the
/// step reads a few scopes' messages anyway.
fn match_condition(s: &mut Statement, terms: &Terms, step: Step, prefix: &str) -> String {
    let checked_words = format!("ts_match_vq(m.search_vector, {prefix}::tsquery)");
    if let Step::Words { lookup, .. } = step {
        // Every match of whole words and the prefix holds these words: they find the
        // candidates, each checked against the query.
        let words = match lookup {
            Lookup::LeadingWords => terms.leading.clone(),
            Lookup::MiddleWords => terms.middle.clone(),
            Lookup::LastWord => Some(terms.last.clone()),
            Lookup::Words => None,
        };
        return match words {
            Some(words) => {
                let words = s.param(Param::Text(words));
                format!("(m.search_vector @@ {words}::tsquery AND {checked_words})")
            }
            None => format!("m.search_vector @@ {prefix}::tsquery"),
        };
    }
    let pattern = terms.pattern.clone().map(|pattern| s.param(Param::Text(pattern)));
    let checked = match &pattern {
        Some(pattern) => format!("({checked_words} OR textlike(m.search_text, {pattern}))"),
        None => checked_words.clone(),
    };
    let Step::Indexed { lookup, .. } = step else { return checked };
    // What the word index looks up: the words of `lookup`, when the query has them.
    let words = match lookup {
        Lookup::LeadingWords => terms.leading.clone(),
        Lookup::MiddleWords => terms.middle.clone(),
        Lookup::LastWord => Some(terms.last.clone()),
        Lookup::Words => None,
    };
    match (lookup, words) {
        // Every match holds these words, whichever way it matches: they alone find the
        // candidates (a phrase of two words or more is always long enough for `pattern`).
        (Lookup::MiddleWords | Lookup::LastWord, Some(words)) if pattern.is_some() && terms.leading.is_some() => {
            let words = s.param(Param::Text(words));
            format!("(m.search_vector @@ {words}::tsquery AND {checked})")
        }
        (Lookup::LeadingWords, Some(words)) => {
            let words = s.param(Param::Text(words));
            let by_words = format!("(m.search_vector @@ {words}::tsquery AND {checked_words})");
            match pattern {
                Some(pattern) => format!("({by_words} OR m.search_text LIKE {pattern})"),
                None => by_words,
            }
        }
        _ => match pattern {
            Some(pattern) => format!("(m.search_vector @@ {prefix}::tsquery OR m.search_text LIKE {pattern})"),
            None => format!("m.search_vector @@ {prefix}::tsquery"),
        },
    }
}

/// A word as a tsquery operand: quoted, so that nothing in it is an operator, with quotes
/// and backslashes escaped. (Folded words hold only letters and digits; this does not
/// count on it.)
fn lexeme(word: &str) -> String {
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        match c {
            '\'' => quoted.push_str("''"),
            '\\' => quoted.push_str("\\\\"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// `%phrase%`, with LIKE's `%`, `_` and its escape character `\` escaped in the phrase.
fn like_pattern(phrase: &str) -> String {
    let mut pattern = String::with_capacity(phrase.len() + 2);
    pattern.push('%');
    for c in phrase.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use chat_core::domain::ids::{ConversationId, MessageId, UserId};
    use chat_core::domain::message::MessageKind;
    use chat_core::domain::search::SearchPosition;
    use chat_core::ports::SearchScope;

    use super::*;

    #[test]
    fn words_become_quoted_lexemes_and_the_last_a_prefix() {
        let terms = Terms::new(&SearchText::parse("Nguyễn  ĐỨC").unwrap());
        assert_eq!(terms.exact, "'nguyen' & 'duc'");
        assert_eq!(terms.prefix, "'nguyen' & 'duc':*");
        assert_eq!(terms.pattern.as_deref(), Some("%nguyen duc%"));
        assert_eq!(terms.leading.as_deref(), Some("'nguyen'"));
        assert_eq!(terms.last, "'duc':*");
        assert_eq!(terms.middle, None);
        assert_eq!(Terms::new(&SearchText::parse("pho").unwrap()).leading, None);
        assert_eq!(Terms::new(&SearchText::parse("a b c d").unwrap()).middle.as_deref(), Some("'b' & 'c'"));
        assert_eq!(Terms::new(&SearchText::parse("ab").unwrap()).pattern, None, "too short for inside words");
    }

    #[test]
    fn quotes_backslashes_and_wildcards_are_escaped() {
        assert_eq!(lexeme("it's"), "'it''s'");
        assert_eq!(lexeme("a\\b"), "'a\\\\b'");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    fn search() -> MessageSearch {
        MessageSearch {
            viewer: UserId(uuid::Uuid::now_v7()),
            text: SearchText::parse("pho bo").unwrap(),
            scopes: vec![SearchScope { conversation: ConversationId(uuid::Uuid::now_v7()), after_seq: 0 }],
            sender: None,
            kind: None,
            sent_before: None,
            sent_after: None,
            excluded_senders: Vec::new(),
            as_of: Timestamp::from_timestamp(1_800_000_000, 0).unwrap(),
            after: None,
            limit: 20,
        }
    }

    #[test]
    fn only_the_filters_given_are_in_the_statement() {
        let search = search();
        let terms = Terms::new(&search.text);
        let plain =
            search_statement(&search, &terms, Step::Indexed { lookup: Lookup::Words, scopes_by_index: true }, 20);
        assert!(plain.sql().contains("WHERE m.conversation_id = ANY($8)"));
        let few =
            search_statement(&search, &terms, Step::Indexed { lookup: Lookup::Words, scopes_by_index: false }, 20);
        assert!(few.sql().contains("WHERE (m.conversation_id = ANY($8)) IS TRUE"));
        for absent in ["m.seq >", "m.sender_id =", "m.kind =", "<> ALL", "m.created_at <", "(m.score, m.id) <"] {
            assert!(!plain.sql().contains(absent), "{absent} in {}", plain.sql());
        }
        let narrowed = MessageSearch {
            scopes: vec![SearchScope { after_seq: 3, ..search.scopes[0] }],
            sender: Some(search.viewer),
            kind: Some(MessageKind::Image),
            sent_before: Some(search.as_of),
            sent_after: Some(search.as_of),
            excluded_senders: vec![search.viewer],
            after: Some(SearchPosition { score: 1, id: MessageId(uuid::Uuid::now_v7()) }),
            ..search.clone()
        };
        let full = search_statement(&narrowed, &terms, Step::Since(search.as_of), 20);
        for present in
            ["m.seq >", "m.sender_id =", "m.kind =", "<> ALL", "m.created_at <", "m.created_at >=", "(m.score, m.id) <"]
        {
            assert!(full.sql().contains(present), "{present} missing from {}", full.sql());
        }
        let placeholders = full.sql().matches('$').count();
        assert!(placeholders >= full.params.len(), "every parameter is used");
        assert!(full.sql().contains(&format!("${}", full.params.len())));
    }

    #[test]
    fn only_the_indexed_step_lets_the_indexes_find_the_words() {
        let search = MessageSearch { text: SearchText::parse("nguyen van duc").unwrap(), ..search() };
        let terms = Terms::new(&search.text);
        let sql = |lookup| {
            search_statement(&search, &terms, Step::Indexed { lookup, scopes_by_index: true }, 20).sql().to_owned()
        };
        // $2 is the whole query, the last word a prefix; $9 the pattern; $10 the words looked up.
        let checked = "(ts_match_vq(m.search_vector, $2::tsquery) OR textlike(m.search_text, $9))";
        assert!(sql(Lookup::Words).contains(" AND (m.search_vector @@ $2::tsquery OR m.search_text LIKE $9)"));
        assert!(sql(Lookup::LeadingWords).contains(
            " AND ((m.search_vector @@ $10::tsquery AND ts_match_vq(m.search_vector, $2::tsquery)) OR m.search_text LIKE $9)"
        ));
        for lookup in [Lookup::MiddleWords, Lookup::LastWord] {
            assert!(
                sql(lookup).contains(&format!(" AND (m.search_vector @@ $10::tsquery AND {checked})")),
                "{lookup:?}"
            );
        }
        let words = |lookup| {
            search_statement(&search, &terms, Step::Words { lookup, scopes_by_index: false }, 20).sql().to_owned()
        };
        assert!(words(Lookup::Words).contains(" AND m.search_vector @@ $2::tsquery AND "));
        assert!(
            words(Lookup::LeadingWords)
                .contains(" AND (m.search_vector @@ $9::tsquery AND ts_match_vq(m.search_vector, $2::tsquery)) AND ")
        );
        for lookup in [Lookup::Words, Lookup::LeadingWords, Lookup::MiddleWords, Lookup::LastWord] {
            assert!(!words(lookup).contains("search_text"), "nothing inside words: {lookup:?}");
        }
        for step in [Step::Scan, Step::Since(search.as_of)] {
            let checked_sql = search_statement(&search, &terms, step, 20);
            let checked_prefix = "(ts_match_vq(m.search_vector, $2::tsquery) OR textlike(m.search_text, $";
            assert!(checked_sql.sql().contains(checked_prefix), "{}", checked_sql.sql());
            assert!(
                !checked_sql.sql().contains("m.search_text LIKE") && !checked_sql.sql().contains("@@ $2::tsquery OR")
            );
        }
    }
}
