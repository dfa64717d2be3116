//! Rules every free-text field shares: which characters may be stored, and what counts as
//! blank. The field parsers (message body, bio, names, titles, search) apply them, so every
//! store refuses the same text the same way.

use super::error::Invalid;

/// The code of a text refused for a control character, whatever the field.
pub const INVALID_CHARACTERS: &str = "invalid_characters";

/// What a field may hold besides printable text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One line: a name, a title, a search. No control character at all, and no explicit
    /// text-direction override (see `is_refused_control`).
    SingleLine,
    /// Free text people write on several lines: a message, a bio, a note. Tab, line feed and
    /// carriage return (`\r\n` from some keyboards) are kept; other controls are not.
    MultiLine,
}

/// Refuses text holding a control character its layout does not allow: U+0000 (which
/// Postgres cannot store in `text`, so a store would fail where another succeeds), the rest of
/// C0, DEL and C1. Nobody types those; they only hide text or confuse terminals and logs.
/// `field` names the field in the message, for people.
pub fn refuse_control_characters(text: &str, layout: Layout, field: &str) -> Result<(), Invalid> {
    if let Some(refused) = text.chars().find(|c| is_refused_control(*c, layout)) {
        let allowed = match layout {
            Layout::SingleLine => " or text direction overrides",
            Layout::MultiLine => " other than tab and new line",
        };
        return Err(Invalid::new(
            INVALID_CHARACTERS,
            format!("{field} must not contain control characters{allowed} (found U+{:04X})", u32::from(refused)),
        ));
    }
    Ok(())
}

/// Whether `c` is a control character a field of this layout refuses. One-line fields (names,
/// titles, searches) also refuse the bidirectional embeddings, overrides and isolates: in a
/// name they only serve to show it reversed (`U+202E` makes "evil" read "live"), to pass for
/// someone else. Multi-line text keeps them, as pasted right-to-left text may carry them.
pub fn is_refused_control(c: char, layout: Layout) -> bool {
    match layout {
        Layout::SingleLine => c.is_control() || is_direction_control(c),
        Layout::MultiLine => c.is_control() && !matches!(c, '\t' | '\n' | '\r'),
    }
}

/// The explicit bidirectional formatting characters: embeddings and overrides (U+202A to
/// U+202E) and isolates (U+2066 to U+2069).
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether the text shows nothing: empty, or only whitespace and invisible characters. A
/// message of zero-width spaces would otherwise pass for a message and show as an empty bubble.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_invisible)
}

/// Characters that take no visible room on their own: whitespace, the zero-width space,
/// joiners and word joiner, the byte-order mark, direction marks and bidi controls, soft
/// hyphen, combining grapheme joiner, Hangul fillers and the invisible math operators. Inside
/// text they are legitimate (a ZWJ joins emoji); only text made of nothing else is blank.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nul_and_other_controls_are_refused_with_one_code() {
        for text in ["a\u{0}b", "\u{7}", "x\u{7F}", "x\u{85}y", "\u{9F}"] {
            for layout in [Layout::SingleLine, Layout::MultiLine] {
                let refused = refuse_control_characters(text, layout, "body").map_err(|e| e.code);
                assert_eq!(refused, Err(INVALID_CHARACTERS), "{text:?} {layout:?}");
            }
        }
    }

    #[test]
    fn names_refuse_direction_overrides_that_messages_keep() {
        for text in ["admin\u{202E}nimda", "\u{2067}An", "x\u{202A}y"] {
            let refused = refuse_control_characters(text, Layout::SingleLine, "name").map_err(|e| e.code);
            assert_eq!(refused, Err(INVALID_CHARACTERS), "{text:?}");
            assert_eq!(refuse_control_characters(text, Layout::MultiLine, "body"), Ok(()), "{text:?}");
        }
        // Implicit direction marks stay: they are how right-to-left names are typed.
        assert_eq!(refuse_control_characters("\u{200F}שלום", Layout::SingleLine, "name"), Ok(()));
    }

    #[test]
    fn line_breaks_and_tabs_only_in_multi_line_text() {
        for text in ["line one\nline two", "a\tb", "windows\r\nline"] {
            assert_eq!(refuse_control_characters(text, Layout::MultiLine, "body"), Ok(()));
            assert!(refuse_control_characters(text, Layout::SingleLine, "name").is_err());
        }
    }

    #[test]
    fn invisible_only_text_is_blank_but_invisible_characters_inside_text_are_kept() {
        assert!(is_blank(""));
        assert!(is_blank(" \u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}\n\u{3000}"));
        assert!(!is_blank("\u{200B}a"));
        assert!(!is_blank("👨\u{200D}👩\u{200D}👧"));
        assert_eq!(refuse_control_characters("👨\u{200D}👩", Layout::SingleLine, "name"), Ok(()));
    }

    proptest! {
        #[test]
        fn accepted_text_holds_no_refused_control(text in any::<String>(), multi in any::<bool>()) {
            let layout = if multi { Layout::MultiLine } else { Layout::SingleLine };
            let accepted = refuse_control_characters(&text, layout, "text").is_ok();
            prop_assert_eq!(accepted, !text.chars().any(|c| is_refused_control(c, layout)));
            prop_assert!(accepted || text.chars().any(|c| c.is_control() || is_direction_control(c)));
            prop_assert!(!text.contains('\0') || !accepted);
        }

        #[test]
        fn text_with_a_visible_character_is_not_blank(
            invisible in proptest::collection::vec(
                prop::sample::select(vec![' ', '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\n']),
                0..8,
            ),
            visible in prop::sample::select(vec!['a', 'Z', '7', 'ệ', 'đ', '😀', '.']),
        ) {
            let blank: String = invisible.iter().collect();
            prop_assert!(is_blank(&blank));
            let text = format!("{blank}{visible}{blank}");
            prop_assert!(!is_blank(&text));
        }
    }
}
