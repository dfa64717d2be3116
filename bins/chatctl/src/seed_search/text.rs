//! Message text for `seed-search`: Vietnamese chat lines of 1 to 30 words, drawn from
//! [`vocab`](super::vocab) with a Zipf-like weight by rank, with names, places, food, work
//! words, numbers, order codes, emoji and rare words mixed in, and a quarter typed without
//! marks ("khong co gi"), as people often type.
//!
//! Everything comes from the caller's random generator, so a seed gives the same text.

use chat_core::domain::social::fold_for_search;
use rand::Rng;

use super::vocab;

/// The longest message, in words.
pub const MAX_WORDS: usize = 30;
/// The mean length of a composed message is about this many words plus one.
const MEAN_EXTRA_WORDS: f64 = 6.0;
/// Zipf–Mandelbrot offset: flattens the head so the commonest word is about 2% of the
/// everyday words (a real vocabulary has tens of thousands of words, this one hundreds).
const ZIPF_OFFSET: f64 = 10.0;
/// How many distinct order codes exist ("DH" and six digits); messages pick among them, so
/// an order is sometimes discussed more than once.
pub const ORDER_CODES: u32 = 20_000;
/// Share of messages typed without Vietnamese marks, in lower case.
const UNMARKED_SHARE: f64 = 0.25;
/// Share of messages that are a stock line ("ok em", "ăn cơm chưa?").
const STOCK_SHARE: f64 = 0.12;

/// What a piece of a composed message is, by its chance in 10,000.
const NAME_IN_10K: u32 = 400;
const PLACE_IN_10K: u32 = 150;
const FOOD_IN_10K: u32 = 200;
const WORK_IN_10K: u32 = 250;
const NUMBER_IN_10K: u32 = 200;
const CODE_IN_10K: u32 = 12;
const RARE_IN_10K: u32 = 3;

/// Draws indexes by a fixed weight table (cumulative sums and a binary search), so the
/// draw depends only on the generator's next value.
#[derive(Clone, Debug)]
pub struct WeightedPick {
    cumulative: Vec<f64>,
}

impl WeightedPick {
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|weight| {
                total += weight.max(0.0);
                total
            })
            .collect();
        WeightedPick { cumulative }
    }

    /// Weights `1 / (rank + offset)^exponent` for ranks 1..=count.
    pub fn zipf(count: usize, offset: f64, exponent: f64) -> Self {
        WeightedPick::new((1..=count).map(|rank| 1.0 / (rank as f64 + offset).powf(exponent)))
    }

    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random_range(0.0..1.0) * total;
        self.cumulative.partition_point(|&sum| sum <= target).min(self.cumulative.len().saturating_sub(1))
    }
}

/// Makes message bodies; build once, call [`TextGenerator::message`] per message.
#[derive(Clone, Debug)]
pub struct TextGenerator {
    common: WeightedPick,
    families: WeightedPick,
}

impl Default for TextGenerator {
    fn default() -> Self {
        TextGenerator {
            common: WeightedPick::zipf(vocab::COMMON.len(), ZIPF_OFFSET, 1.0),
            families: WeightedPick::new(vocab::FAMILY_NAMES.iter().map(|(_, share)| f64::from(*share))),
        }
    }
}

impl TextGenerator {
    /// One message body.
    pub fn message(&self, rng: &mut impl Rng) -> String {
        let text = if rng.random_bool(STOCK_SHARE) { self.stock_line(rng) } else { self.composed(rng) };
        if rng.random_bool(UNMARKED_SHARE) { fold_for_search(&text) } else { text }
    }

    /// A full name: family, middle and given name.
    pub fn full_name(&self, rng: &mut impl Rng) -> String {
        let family = vocab::FAMILY_NAMES[self.families.pick(rng)].0;
        format!("{family} {} {}", pick(rng, vocab::MIDDLE_NAMES), pick(rng, vocab::GIVEN_NAMES))
    }

    fn stock_line(&self, rng: &mut impl Rng) -> String {
        let line = pick(rng, vocab::STOCK_LINES);
        if rng.random_bool(0.2) { format!("{line} {}", pick(rng, vocab::EMOJI)) } else { line.to_owned() }
    }

    fn composed(&self, rng: &mut impl Rng) -> String {
        let target = message_length(rng);
        let mut pieces: Vec<String> = Vec::new();
        let mut words = 0;
        while words < target {
            let piece = self.piece(rng);
            words += piece.split(' ').count();
            pieces.push(piece);
        }
        let mut text = pieces.join(" ");
        if rng.random_bool(0.4) {
            text = capitalise_first(&text);
        }
        if rng.random_bool(0.35) {
            text.push_str(pick(rng, vocab::ENDINGS));
        }
        if rng.random_bool(0.1) {
            text.push(' ');
            text.push_str(pick(rng, vocab::EMOJI));
        }
        text
    }

    fn piece(&self, rng: &mut impl Rng) -> String {
        let mut roll = rng.random_range(0..10_000u32);
        let mut within = |share: u32| {
            let hit = roll < share;
            roll = roll.saturating_sub(share);
            hit
        };
        if within(NAME_IN_10K) {
            self.name_mention(rng)
        } else if within(PLACE_IN_10K) {
            pick(rng, vocab::PLACES).to_owned()
        } else if within(FOOD_IN_10K) {
            pick(rng, vocab::FOOD).to_owned()
        } else if within(WORK_IN_10K) {
            pick(rng, vocab::WORK).to_owned()
        } else if within(NUMBER_IN_10K) {
            number(rng)
        } else if within(CODE_IN_10K) {
            let code = order_code(rng.random_range(0..ORDER_CODES));
            if rng.random_bool(0.5) { format!("mã đơn {code}") } else { code }
        } else if within(RARE_IN_10K) {
            pick(rng, vocab::RARE).to_owned()
        } else {
            vocab::COMMON[self.common.pick(rng)].to_owned()
        }
    }

    /// "anh Đức", "Hương", or a full name.
    fn name_mention(&self, rng: &mut impl Rng) -> String {
        match rng.random_range(0..20) {
            0..12 => format!("{} {}", pick(rng, vocab::ADDRESS_TERMS), pick(rng, vocab::GIVEN_NAMES)),
            12..17 => pick(rng, vocab::GIVEN_NAMES).to_owned(),
            _ => self.full_name(rng),
        }
    }
}

/// The order code with this number: "DH" and six digits, the numbers spread over the whole
/// six-digit range (485,207 is prime to 900,000, so distinct numbers give distinct codes).
pub fn order_code(number: u32) -> String {
    let digits = 100_000 + u64::from(number) * 485_207 % 900_000;
    format!("DH{digits}")
}

/// 1 to [`MAX_WORDS`], most messages short: one plus an exponential of mean
/// [`MEAN_EXTRA_WORDS`], cut at the maximum.
fn message_length(rng: &mut impl Rng) -> usize {
    let uniform: f64 = rng.random_range(f64::EPSILON..1.0);
    let extra = (-uniform.ln() * MEAN_EXTRA_WORDS).floor() as usize;
    (1 + extra).min(MAX_WORDS)
}

/// A time, a price, a date, a count.
fn number(rng: &mut impl Rng) -> String {
    match rng.random_range(0..7) {
        0 => format!("{}h", rng.random_range(6..23)),
        1 => format!("{}h{:02}", rng.random_range(6..23), rng.random_range(0..4) * 15),
        2 => format!("{}k", rng.random_range(1..50) * 10),
        3 => format!("{}/{}", rng.random_range(1..29), rng.random_range(1..13)),
        4 => format!("{} triệu", rng.random_range(1..30)),
        5 => format!("{} người", rng.random_range(2..20)),
        _ => rng.random_range(1..100).to_string(),
    }
}

fn pick<'a>(rng: &mut impl Rng, words: &[&'a str]) -> &'a str {
    words[rng.random_range(0..words.len())]
}

fn capitalise_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chat_core::domain::search::search_words;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn sample(seed: u64, count: usize) -> Vec<String> {
        let generator = TextGenerator::default();
        let mut rng = StdRng::seed_from_u64(seed);
        (0..count).map(|_| generator.message(&mut rng)).collect()
    }

    #[test]
    fn a_seed_gives_the_same_text() {
        assert_eq!(sample(7, 200), sample(7, 200));
        assert_ne!(sample(7, 200), sample(8, 200));
    }

    #[test]
    fn messages_are_1_to_30_words_mostly_short() {
        let messages = sample(1, 20_000);
        let lengths: Vec<usize> = messages.iter().map(|m| m.split_whitespace().count()).collect();
        // A composed message may overshoot its length by the words of its last piece, and
        // an ending emoji counts as a word here.
        assert!(lengths.iter().all(|&n| (1..=MAX_WORDS + 4).contains(&n)), "{:?}", lengths.iter().max());
        let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
        assert!((4.0..10.0).contains(&mean), "mean length {mean}");
        assert!(lengths.iter().filter(|&&n| n >= 25).count() > 20, "some long messages");
    }

    #[test]
    fn the_commonest_words_lead_and_the_tail_is_long() {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let messages = sample(2, 50_000);
        for message in &messages {
            let mut words = search_words(message);
            words.sort();
            words.dedup();
            for word in words {
                *counts.entry(word).or_default() += 1;
            }
        }
        let share = |word: &str| counts.get(word).copied().unwrap_or(0) as f64 / messages.len() as f64;
        assert!((0.05..0.25).contains(&share("khong")), "khong in {:.3} of messages", share("khong"));
        assert!(share("anh") > share("nguyen"), "pronouns beat names");
        assert!(share("nguyen") > 0.005, "Nguyễn is the commonest family name: {}", share("nguyen"));
        assert!(share("kangaroo") == 0.0);
        let singletons = counts.values().filter(|&&n| n < 20).count();
        assert!(singletons > 100, "a long tail (numbers, codes, rare words): {singletons}");
    }

    #[test]
    fn some_messages_are_typed_without_marks() {
        let messages = sample(3, 2_000);
        let unmarked = messages.iter().filter(|m| m.is_ascii() && m.chars().any(|c| c.is_alphabetic())).count();
        let marked = messages.iter().filter(|m| m.chars().any(|c| "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệ".contains(c))).count();
        assert!(unmarked > 300 && marked > 1_000, "unmarked {unmarked}, marked {marked}");
    }

    #[test]
    fn order_codes_are_distinct_six_digit_codes() {
        let codes: std::collections::HashSet<String> = (0..ORDER_CODES).map(order_code).collect();
        assert_eq!(codes.len(), ORDER_CODES as usize);
        assert!(
            codes.iter().all(|c| c.len() == 8 && c.starts_with("DH") && c[2..].bytes().all(|b| b.is_ascii_digit()))
        );
        let messages = sample(4, 20_000);
        let with_code = messages.iter().filter(|m| m.to_lowercase().contains("dh")).count();
        assert!((20..1_000).contains(&with_code), "{with_code} messages name an order");
    }

    #[test]
    fn weighted_picks_follow_their_weights() {
        let pick = WeightedPick::new([1.0, 0.0, 3.0]);
        let mut rng = StdRng::seed_from_u64(5);
        let mut counts = [0usize; 3];
        for _ in 0..40_000 {
            counts[pick.pick(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0, "a zero weight is never drawn");
        let ratio = counts[2] as f64 / counts[0] as f64;
        assert!((2.7..3.3).contains(&ratio), "{counts:?}");
    }
}
