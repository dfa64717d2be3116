//! The benchmark's query set, chosen from what was written: a common word, a rare word, a
//! prefix of one word and of two, a name (with and without marks), an order-code substring
//! and a word that occurs nowhere, each with how many of the benchmark user's messages match
//! it (by the rules of `chat_core::domain::search`, which every store follows).

use std::collections::HashMap;

use chat_core::domain::search::SearchText;
use serde::Serialize;

use super::vocab;

/// The fixed queries: shape name and text.
const FIXED: &[(&str, &str)] = &[
    ("common word", "khong"),
    ("prefix", "nguy"),
    // Search as you type, the second word begun: "kh" begins some of the commonest words.
    ("two-word prefix", "chuyển kh"),
    ("name", "Nguyễn Đức"),
    ("name unmarked", "nguyen duc"),
    ("no hit", "kangaroo"),
];
/// A rare word should match at least this many messages, so it is found at all.
const RARE_AT_LEAST: usize = 3;

/// One query of the benchmark.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BenchQuery {
    pub shape: String,
    pub q: String,
    /// Matching messages of the benchmark user when seeded.
    pub expected: usize,
}

/// The benchmark user's searchable messages, gathered while writing.
#[derive(Default)]
pub struct QueryTally {
    /// Each message's folded words, joined by spaces.
    folded: Vec<String>,
}

impl QueryTally {
    /// Counts a message the benchmark user can find (not recalled, with text), given as its
    /// folded words joined by spaces (`messages.search_text`).
    pub fn add_folded(&mut self, folded: &str) {
        self.folded.push(folded.to_owned());
    }

    pub fn messages(&self) -> usize {
        self.folded.len()
    }

    /// The query set, with their matches.
    pub fn finish(&self) -> Vec<BenchQuery> {
        let mut queries: Vec<BenchQuery> = FIXED.iter().map(|(shape, q)| self.query(shape, q)).collect();
        if let Some(rare) = self.rare_word() {
            queries.insert(1, rare);
        }
        if let Some(code) = self.code_substring() {
            queries.push(code);
        }
        queries
    }

    /// Other terms present in the benchmark user's messages, with their matches, for anyone
    /// choosing queries of their own: every rare word found, the most named order codes, and
    /// the family names.
    pub fn known_terms(&self) -> Vec<(String, usize)> {
        let mut terms: Vec<(String, usize)> = vocab::RARE
            .iter()
            .chain(vocab::FAMILY_NAMES.iter().map(|(name, _)| name))
            .map(|q| (q.to_string(), self.matches(q)))
            .filter(|(_, count)| *count > 0)
            .collect();
        let mut codes: Vec<(String, usize)> =
            self.code_counts().into_iter().map(|(c, n)| (c.to_uppercase(), n)).collect();
        codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        terms.extend(codes.into_iter().take(5));
        terms
    }

    fn query(&self, shape: &str, q: &str) -> BenchQuery {
        BenchQuery { shape: shape.to_owned(), q: q.to_owned(), expected: self.matches(q) }
    }

    fn matches(&self, q: &str) -> usize {
        let Ok(text) = SearchText::parse(q) else { return 0 };
        self.folded
            .iter()
            .filter(|folded| {
                let words: Vec<String> = folded.split(' ').map(str::to_owned).collect();
                text.match_tier(&words).is_some()
            })
            .count()
    }

    /// The least frequent rare word found at least [`RARE_AT_LEAST`] times, else the most
    /// frequent one found at all.
    fn rare_word(&self) -> Option<BenchQuery> {
        let mut counted: Vec<BenchQuery> = vocab::RARE.iter().map(|q| self.query("rare word", q)).collect();
        counted.sort_by(|a, b| (a.expected, &a.q).cmp(&(b.expected, &b.q)));
        counted
            .iter()
            .find(|q| q.expected >= RARE_AT_LEAST)
            .or_else(|| counted.iter().rev().find(|q| q.expected > 0))
            .cloned()
    }

    /// Five digits from inside the order code the benchmark user's messages name most
    /// (ties: the smallest code): found only by looking inside words.
    fn code_substring(&self) -> Option<BenchQuery> {
        let (code, _) = self.code_counts().into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))?;
        Some(self.query("order code substring", &code[3..]))
    }

    /// The order codes named (folded: "dh123456") and in how many messages.
    fn code_counts(&self) -> HashMap<&str, usize> {
        let mut codes: HashMap<&str, usize> = HashMap::new();
        for folded in &self.folded {
            let mut words: Vec<&str> = folded.split(' ').collect();
            words.sort_unstable();
            words.dedup();
            for word in words {
                if word.len() == 8 && word.starts_with("dh") && word[2..].bytes().all(|b| b.is_ascii_digit()) {
                    *codes.entry(word).or_default() += 1;
                }
            }
        }
        codes
    }
}

#[cfg(test)]
mod tests {
    use chat_core::domain::search::search_words;

    use super::*;

    fn tally(bodies: &[&str]) -> QueryTally {
        let mut tally = QueryTally::default();
        for body in bodies {
            tally.add_folded(&search_words(body).join(" "));
        }
        tally
    }

    #[test]
    fn counts_follow_the_search_rules() {
        let tally = tally(&[
            "Không sao đâu",
            "khong co gi",
            "anh Nguyễn Đức Anh gọi",
            "nguyen van duc",
            "nguy hiểm quá",
            "mã đơn DH483920 giao chưa",
            "DH483920 đến rồi",
            "DH100000",
            "khủng long",
        ]);
        let queries = tally.finish();
        let expected = |shape: &str| queries.iter().find(|q| q.shape == shape).map(|q| (q.q.as_str(), q.expected));
        assert_eq!(expected("common word"), Some(("khong", 2)));
        assert_eq!(expected("prefix"), Some(("nguy", 3)), "nguyen twice and nguy hiem");
        assert_eq!(expected("name"), Some(("Nguyễn Đức", 2)), "both words, any order");
        assert_eq!(expected("name unmarked"), Some(("nguyen duc", 2)));
        assert_eq!(expected("no hit"), Some(("kangaroo", 0)));
        assert_eq!(expected("order code substring"), Some(("83920", 2)));
        assert_eq!(expected("rare word"), Some(("khủng long", 1)), "the most frequent when none is common enough");
        let known = tally.known_terms();
        assert!(
            known.contains(&("khủng long".to_owned(), 1)) && known.contains(&("Nguyễn".to_owned(), 2)),
            "{known:?}"
        );
        assert_eq!(known.iter().filter(|(term, _)| term.starts_with("DH")).count(), 2, "{known:?}");
        assert!(known.contains(&("DH483920".to_owned(), 2)));
    }

    #[test]
    fn without_codes_or_rare_words_those_shapes_are_left_out() {
        let queries = tally(&["chào anh"]).finish();
        assert_eq!(queries.len(), FIXED.len());
    }
}
