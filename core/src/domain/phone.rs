//! Phone numbers: parsed and validated with libphonenumber's metadata (the `phonenumber`
//! crate), Vietnam as the region of numbers written without a country code, stored in E.164.

use phonenumber::{Mode, country};
use serde::{Deserialize, Serialize};

use super::error::Invalid;

/// The region a number without a country code is read in: most users are in Vietnam.
const DEFAULT_REGION: country::Id = country::Id::VN;

/// Longer input is refused before parsing: the longest real number with its punctuation fits
/// with room to spare, and nobody gets the parser's regexes to run over a megabyte.
const MAX_INPUT_BYTES: usize = 64;

/// A valid phone number in E.164 form: `+`, a country code and the national number, at most
/// 15 digits (`+842438251234`, `+84912345678`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts a number in international form (`+84 24 3825 1234`, `+1 650 253 0000`) or, read
    /// as Vietnamese, in national form (`024 3825 1234`, `0912 345 678`, `84912345678`);
    /// spaces, dots, dashes and brackets are ignored. The number must be valid for its
    /// region: the right length and an assigned range (fixed line, mobile, ...). Numbers with
    /// an extension are refused, since E.164 has no room for one.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let refused = || {
            Invalid::new(
                "invalid_phone",
                "phone must be a valid number, in international form (+84 24 3825 1234) or Vietnamese \
                 national form (024 3825 1234, 0912 345 678)",
            )
        };
        if raw.len() > MAX_INPUT_BYTES {
            return Err(refused());
        }
        let number = phonenumber::parse(Some(DEFAULT_REGION), raw).map_err(|_| refused())?;
        if number.extension().is_some() || !phonenumber::is_valid(&number) {
            return Err(refused());
        }
        Ok(Phone(number.format().mode(Mode::E164).to_string()))
    }

    /// A number a store wrote after `parse` accepted it, read back. Only its E.164 shape is
    /// checked, not libphonenumber's metadata: a number accepted once (by an older parser or
    /// older metadata, whose ranges change) must not make its owner's account unreadable.
    pub fn from_stored(stored: &str) -> Result<Self, Invalid> {
        let digits = stored.strip_prefix('+').unwrap_or_default();
        if (2..=15).contains(&digits.len()) && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            Ok(Phone(stored.to_owned()))
        } else {
            Err(Invalid::new("invalid_phone", format!("stored phone {stored:?} is not in E.164 form")))
        }
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parsed(raw: &str) -> Result<String, &'static str> {
        Phone::parse(raw).map(|phone| phone.0).map_err(|invalid| invalid.code)
    }

    #[test]
    fn a_stored_number_is_read_back_by_its_shape_alone() {
        // +84 99x was never assigned: `parse` refuses it, yet a stored one still reads.
        assert_eq!(parsed("+84 992 345 678"), Err("invalid_phone"));
        assert_eq!(Phone::from_stored("+84992345678").map(|phone| phone.0), Ok("+84992345678".to_owned()));
        for corrupt in ["", "+", "84912345678", "+84 912", "+1234567890123456", "+84abc"] {
            assert!(Phone::from_stored(corrupt).is_err(), "{corrupt:?}");
        }
    }

    #[test]
    fn vietnamese_mobiles_in_every_usual_form() {
        for raw in ["+84 912 345 678", "0912 345 678", "(091) 234-5678", "84912345678", "0912.345.678"] {
            assert_eq!(parsed(raw), Ok("+84912345678".to_owned()), "{raw}");
        }
    }

    #[test]
    fn vietnamese_landlines_in_local_and_international_form() {
        assert_eq!(parsed("024 3825 1234"), Ok("+842438251234".to_owned()));
        assert_eq!(parsed("+84 24 3825 1234"), Ok("+842438251234".to_owned()));
        assert_eq!(parsed("028 3822 1234"), Ok("+842838221234".to_owned()));
        assert_eq!(parsed("0236 3821 234"), Ok("+842363821234".to_owned()));
    }

    #[test]
    fn other_countries_need_their_country_code() {
        assert_eq!(parsed("+1 650-253-0000"), Ok("+16502530000".to_owned()));
        assert_eq!(parsed("+44 20 7946 0958"), Ok("+442079460958".to_owned()));
    }

    #[test]
    fn wrong_lengths_unassigned_ranges_and_junk_are_refused() {
        let refused = [
            "091234567",     // a digit short
            "09123456789",   // a digit long
            "0992 345 678",  // 0992 is not an assigned mobile range
            "024 1825 1234", // Hanoi landlines are 024 2..8
            "+0912345678",   // no country code 0
            "+84abc",
            "12345",
            "+999 1234 5678", // no such country
            "",
            "0912 345 678 ext. 12",
        ];
        for raw in refused {
            assert_eq!(parsed(raw), Err("invalid_phone"), "{raw:?}");
        }
        assert_eq!(parsed(&"0".repeat(MAX_INPUT_BYTES + 1)), Err("invalid_phone"));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(raw in any::<String>()) {
            let _ = Phone::parse(&raw);
        }

        #[test]
        fn never_panics_on_phone_like_text(raw in "[+0-9 ().\\-x#*;a-z]{0,40}") {
            let _ = Phone::parse(&raw);
        }

        #[test]
        fn accepted_numbers_are_e164_and_parse_to_themselves(raw in "\\+?[0-9 ().\\-]{6,24}") {
            if let Ok(phone) = Phone::parse(&raw) {
                let digits = &phone.0[1..];
                prop_assert!(phone.0.starts_with('+'), "{}", phone.0);
                prop_assert!(digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0'));
                prop_assert!((7..=15).contains(&digits.len()), "{}", phone.0);
                prop_assert_eq!(Phone::parse(&phone.0), Ok(phone.clone()));
            }
        }

        #[test]
        fn vietnamese_mobiles_round_trip_from_every_form(
            prefix in prop::sample::select(vec!["90", "91", "93", "94", "96", "97", "98", "86", "88", "32", "70", "56"]),
            rest in "[0-9]{7}",
        ) {
            let national = format!("{prefix}{rest}");
            let e164 = format!("+84{national}");
            let spaced = format!("0{} {} {}", &national[..3], &national[3..6], &national[6..]);
            for raw in [format!("0{national}"), spaced, format!("+84 {national}"), e164.clone()] {
                prop_assert_eq!(parsed(&raw), Ok(e164.clone()), "{}", raw);
            }
        }

        #[test]
        fn hanoi_and_saigon_landlines_round_trip(area in prop::sample::select(vec!["24", "28"]), first in 2u8..=7, rest in "[0-9]{7}") {
            let national = format!("{area}{first}{rest}");
            let e164 = format!("+84{national}");
            prop_assert_eq!(parsed(&format!("0{national}")), Ok(e164.clone()));
            prop_assert_eq!(parsed(&e164), Ok(e164.clone()));
        }
    }
}
